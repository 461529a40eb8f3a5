/** Test helpers shared by the packages: the access-driver compliance suite, namespace labs and fixtures. */
export * from './compliance'
export * from './netns'
export * from './freeradius'
export * from './ns-fixture'
export * from './starve'
