// The worked examples of protocol-reference.md §10 (checked there with scapy and tshark).
export const hexOf = (s: string): Buffer => Buffer.from(s.replace(/[^0-9a-f]/gi, ''), 'hex')

export const MAG_PCOA = '2001:db8:ffff::1'
export const LMA_ADDR = '2001:db8:ffff::2'
export const MN_MAC = '00:11:22:33:44:55'
export const NAI = 'mn1@example.com'

export const PBU_10_1 = hexOf(`
3b 0a 05 00 5a f1 12 34 82 00 03 84 08 10 01 6d
6e 31 40 65 78 61 6d 70 6c 65 2e 63 6f 6d 01 04
00 00 00 00 16 12 00 00 00 00 00 00 00 00 00 00
00 00 00 00 00 00 00 00 17 02 00 01 18 02 00 04
01 00 1b 08 00 00 65 92 00 80 80 00 19 08 00 00
00 11 22 33 44 55 01 00`)

export const PBA_10_2 = hexOf(`
3b 0a 06 00 ad d6 00 20 12 34 03 84 08 10 01 6d
6e 31 40 65 78 61 6d 70 6c 65 2e 63 6f 6d 01 04
00 00 00 00 16 12 00 40 20 01 0d b8 00 01 00 01
00 00 00 00 00 00 00 00 17 02 00 01 18 02 00 04
01 00 1b 08 00 00 65 92 00 80 80 00 19 08 00 00
00 11 22 33 44 55 01 00`)

export const RA_10_3 = hexOf(`
86 00 98 a3 40 00 07 08 00 00 00 00 00 00 00 00
01 01 02 00 00 00 00 fe 05 01 00 00 00 00 05 b4
03 04 40 c0 00 00 0e 10 00 00 0e 10 00 00 00 00
20 01 0d b8 00 01 00 01 00 00 00 00 00 00 00 00`)

export const HB_10_4 = hexOf('3b 01 0d 00 5a e9 00 00 00 00 00 07 01 02 00 00')
