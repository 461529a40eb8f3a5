import { aidOf, dot1xIdentity, isAuthorized, isEventDatagram, parseEvent, parseStaReply } from '../src/parse'

describe('hostapd event parsing', () => {
  test('AP-STA-CONNECTED with the MAC normalised and optional key=value tokens', () => {
    expect(parseEvent('<3>AP-STA-CONNECTED 02:00:00:00:01:0A')).toEqual({ kind: 'sta-connected', level: 3, mac: '02:00:00:00:01:0a', params: {} })
    expect(parseEvent('<3>AP-STA-CONNECTED 00:11:22:33:44:55 p2p_dev_addr=02:11:22:33:44:55 ip_addr=10.0.0.2 keyid=k1 SignalStrength=-40')).toEqual({
      kind: 'sta-connected',
      level: 3,
      mac: '00:11:22:33:44:55',
      params: { p2p_dev_addr: '02:11:22:33:44:55', ip_addr: '10.0.0.2', keyid: 'k1', SignalStrength: '-40' },
    })
  })

  test('AP-STA-DISCONNECTED, trailing newline tolerated', () => {
    expect(parseEvent('<3>AP-STA-DISCONNECTED 00:11:22:33:44:55\n')).toMatchObject({ kind: 'sta-disconnected', mac: '00:11:22:33:44:55' })
  })

  test('other events and broken station events are "other"; replies are not events', () => {
    expect(parseEvent('<3>CTRL-EVENT-EAP-SUCCESS 00:11:22:33:44:55')).toMatchObject({ kind: 'other', name: 'CTRL-EVENT-EAP-SUCCESS' })
    expect(parseEvent('<3>AP-STA-CONNECTED not-a-mac')).toMatchObject({ kind: 'other', name: 'AP-STA-CONNECTED' })
    expect(parseEvent('<3>AP-STA-CONNECTED')).toMatchObject({ kind: 'other' })
    expect(parseEvent('<3>AP-ENABLED ')).toMatchObject({ kind: 'other', name: 'AP-ENABLED' })
    expect(parseEvent('PONG\n')).toBeNull()
    expect(isEventDatagram('<2>x')).toBe(true)
    expect(isEventDatagram('OK\n')).toBe(false)
    expect(isEventDatagram('02:00:00:00:01:01\nflags=')).toBe(false)
  })
})

describe('STA replies', () => {
  const reply = ['E6:90:E9:4C:C8:B7', 'flags=[AUTHORIZED]', 'aid=3', 'dot1xAuthSessionUserName=mn1@example.org', 'last_eap_type_sta=4 (MD5)', ''].join('\n')

  test('MAC, fields, identity, aid, authorization', () => {
    const s = parseStaReply(reply)
    expect(s?.mac).toBe('e6:90:e9:4c:c8:b7')
    expect(s?.fields['last_eap_type_sta']).toBe('4 (MD5)')
    expect(s && isAuthorized(s)).toBe(true)
    expect(s && dot1xIdentity(s)).toBe('mn1@example.org')
    expect(s && aidOf(s)).toBe(3)
  })

  test('a station still in EAP is listed but not authorized; no identity is undefined', () => {
    const s = parseStaReply('02:00:00:00:00:01\nflags=[AUTH][ASSOC]\naid=0\ndot1xAuthSessionUserName=\n')
    expect(s && isAuthorized(s)).toBe(false)
    expect(s && dot1xIdentity(s)).toBeUndefined()
  })

  test('FAIL, empty and unknown replies mean no station', () => {
    expect(parseStaReply('FAIL\n')).toBeNull()
    expect(parseStaReply('')).toBeNull()
    expect(parseStaReply('UNKNOWN COMMAND\n')).toBeNull()
    expect(parseStaReply('garbage\n')).toBeNull()
  })
})
