package linkindex

import "math/bits"

// Hash mixes the words of k with seed into 64 well-spread bits, with the
// multiply-and-fold step of wyhash: the one hash of the package's tables
// and of the processor's sets of keys. A random seed keeps crafted IDs
// from colliding on purpose. The partition is mixed in with the span ID,
// so that partition zero hashes as an unpartitioned key always did.
func Hash(k Key, seed uint64) uint64 {
	return mix64(mix64(k.t0^seed^0xa0761d6478bd642f, k.t1^0xe7037ed1a0b428db)^k.s^uint64(k.p), 0x8ebc6af09c88c6e3^seed)
}

// mix64 multiplies a and b into 128 bits and folds them into 64.
func mix64(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}
