package redisindex

// keySlot returns the Redis Cluster hash slot of key, as Redis computes it:
// CRC16 (XMODEM) of the key, or of its hash tag (the bytes between the first
// '{' and the next '}', when there are any), modulo 16384.
func keySlot(key string) int {
	for i := 0; i < len(key); i++ {
		if key[i] != '{' {
			continue
		}
		for j := i + 1; j < len(key); j++ {
			if key[j] == '}' {
				if j > i+1 {
					key = key[i+1 : j]
				}
				return int(crc16(key) & (clusterSlots - 1))
			}
		}
		break
	}
	return int(crc16(key) & (clusterSlots - 1))
}

// clusterSlots is how many hash slots a Redis Cluster has.
const clusterSlots = 16384

// crc16Table is the CRC16-CCITT (XMODEM) table, polynomial 0x1021.
var crc16Table = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// crc16 returns the CRC16 (XMODEM) of s.
func crc16(s string) uint16 {
	var c uint16
	for i := 0; i < len(s); i++ {
		c = c<<8 ^ crc16Table[byte(c>>8)^s[i]]
	}
	return c
}
