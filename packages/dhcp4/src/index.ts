/**
 * @pmip6/dhcp4: the MAG's DHCPv4 server for its MNs (RFC 5844 §3.4): pure codec and server
 * logic (codec.ts, server.ts, frame.ts) and the socket binding per access link (service.ts).
 */
export * from './codec'
export * from './server'
export * from './service'
export * from './frame'
