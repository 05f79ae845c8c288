package tcp

import (
	"encoding/binary"
	"math/bits"
)

// checksumAdd adds b to the running one's-complement partial sum (RFC 1071). The partial sum is
// kept in 64 bits and folded only at the end; odd-length b is padded with a zero byte, so only
// the last buffer of a checksum may have odd length.
func checksumAdd(sum uint64, b []byte) uint64 {
	var c uint64
	for len(b) >= 32 {
		sum, c = bits.Add64(sum, binary.BigEndian.Uint64(b[0:]), c)
		sum, c = bits.Add64(sum, binary.BigEndian.Uint64(b[8:]), c)
		sum, c = bits.Add64(sum, binary.BigEndian.Uint64(b[16:]), c)
		sum, c = bits.Add64(sum, binary.BigEndian.Uint64(b[24:]), c)
		b = b[32:]
	}
	for len(b) >= 8 {
		sum, c = bits.Add64(sum, binary.BigEndian.Uint64(b), c)
		b = b[8:]
	}
	sum, c = bits.Add64(sum, 0, c)
	sum += c
	if len(b) >= 4 {
		sum, c = bits.Add64(sum, uint64(binary.BigEndian.Uint32(b)), 0)
		sum += c
		b = b[4:]
	}
	if len(b) >= 2 {
		sum, c = bits.Add64(sum, uint64(binary.BigEndian.Uint16(b)), 0)
		sum += c
		b = b[2:]
	}
	if len(b) == 1 {
		sum, c = bits.Add64(sum, uint64(b[0])<<8, 0)
		sum += c
	}
	return sum
}

// copySum copies src into dst (equal lengths) and returns the partial checksum of the bytes,
// as if they started at an even offset: one pass instead of a copy and a checksum pass.
func copySum(dst, src []byte) uint64 {
	var sum, c uint64
	n := len(src)
	dst = dst[:n]
	i := 0
	for ; i+32 <= n; i += 32 {
		a0 := binary.BigEndian.Uint64(src[i:])
		a1 := binary.BigEndian.Uint64(src[i+8:])
		a2 := binary.BigEndian.Uint64(src[i+16:])
		a3 := binary.BigEndian.Uint64(src[i+24:])
		binary.BigEndian.PutUint64(dst[i:], a0)
		binary.BigEndian.PutUint64(dst[i+8:], a1)
		binary.BigEndian.PutUint64(dst[i+16:], a2)
		binary.BigEndian.PutUint64(dst[i+24:], a3)
		sum, c = bits.Add64(sum, a0, c)
		sum, c = bits.Add64(sum, a1, c)
		sum, c = bits.Add64(sum, a2, c)
		sum, c = bits.Add64(sum, a3, c)
	}
	sum, c = bits.Add64(sum, 0, c)
	sum += c
	copy(dst[i:], src[i:])
	return checksumAdd(sum, src[i:])
}

// checksumCombine adds two partial sums with end-around carry.
func checksumCombine(a, b uint64) uint64 {
	s, c := bits.Add64(a, b, 0)
	return s + c
}

// sumOddShift adjusts the partial sum of bytes that start at an odd offset of the checksummed
// data (RFC 1071 §2(B): byte-swapping commutes with the one's-complement sum).
func sumOddShift(s uint64) uint64 {
	f := checksumFold(s)
	return uint64(f>>8 | f<<8)
}

// runSum accumulates the partial sum of one run of bytes given in consecutive pieces, which
// may start at odd offsets of the run (RFC 1071 §2(B): byte-swapping commutes with the sum).
type runSum struct {
	sum uint64
	n   int // bytes so far
}

// addPartial adds the partial sum p of the next n bytes (summed as if at an even offset).
func (r *runSum) addPartial(p uint64, n int) {
	if r.n%2 == 1 {
		p = sumOddShift(p)
	}
	r.sum = checksumCombine(r.sum, p)
	r.n += n
}

// add adds the next piece b.
func (r *runSum) add(b []byte) { r.addPartial(checksumAdd(0, b), len(b)) }

// checksumFold folds a partial sum to 16 bits (not complemented).
func checksumFold(sum uint64) uint16 {
	sum = (sum >> 32) + (sum & 0xffffffff)
	sum = (sum >> 32) + (sum & 0xffffffff)
	sum = (sum >> 16) + (sum & 0xffff)
	sum = (sum >> 16) + (sum & 0xffff)
	sum = (sum >> 16) + (sum & 0xffff)
	return uint16(sum)
}

// Checksum returns the Internet checksum of b (RFC 1071): the complement of the folded sum.
func Checksum(b []byte) uint16 { return ^checksumFold(checksumAdd(0, b)) }

// pseudoSum returns the partial sum of the TCP pseudo-header for IPv4 (src, dst 4 bytes each) or
// IPv6 (16 bytes each) with the given TCP length (RFC 9293 §3.1, RFC 8200 §8.1).
func pseudoSum(src, dst []byte, tcpLen int) uint64 {
	s := checksumAdd(0, src)
	s = checksumAdd(s, dst)
	s += uint64(ProtoTCP) + uint64(tcpLen)
	return s
}
