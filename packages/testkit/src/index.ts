/** Test helpers shared by the packages: the access-driver compliance suite. */
export * from './compliance'
export * from './netns'
export * from './freeradius'
