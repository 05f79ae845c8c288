package mpa

import (
	"encoding/binary"
	"hash/crc32"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC32C returns the CRC32C (Castagnoli) of p.
func CRC32C(p []byte) uint32 { return crc32.Checksum(p, castagnoli) }

// UpdateCRC32C continues crc over p.
func UpdateCRC32C(crc uint32, p []byte) uint32 { return crc32.Update(crc, castagnoli, p) }

// AppendCRC appends crc in MPA wire order (little-endian, as iSCSI digests).
func AppendCRC(dst []byte, crc uint32) []byte { return binary.LittleEndian.AppendUint32(dst, crc) }
