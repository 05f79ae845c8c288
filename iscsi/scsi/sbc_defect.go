package scsi

import "encoding/binary"

// runReadDefectData implements READ DEFECT DATA(10) and (12) (SBC-3 §5.17,
// §5.18). The medium has no defects: the header echoes the requested list
// format with PLISTV/GLISTV set for the requested lists, and the list is
// empty.
func runReadDefectData(_ *Target, l *lu, c *Command) {
	cdb := c.CDB
	var flags byte
	var b []byte
	var alloc int
	if cdb[0] == opReadDefectData10 {
		flags = cdb[2] & 0x1F
		alloc = int(binary.BigEndian.Uint16(cdb[7:9]))
		b = make([]byte, 4)
	} else {
		flags = cdb[1] & 0x1F
		alloc = int(binary.BigEndian.Uint32(cdb[6:10]))
		b = make([]byte, 8)
	}
	b[1] = flags // PLISTV, GLISTV, DEFECT LIST FORMAT
	c.putIn(b, alloc)
}
