export { buildProgram, main } from './main'
export { runDecode, parseHex } from './decode'
