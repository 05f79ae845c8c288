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
