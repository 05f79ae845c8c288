package scsi

import "encoding/binary"

// Timeouts reported in command timeouts descriptors, in seconds.
const (
	nominalTimeout     = 0
	recommendedTimeout = 30
)

func appendTimeouts(b []byte) []byte {
	var d [12]byte
	binary.BigEndian.PutUint16(d[0:2], 0x0A)
	binary.BigEndian.PutUint32(d[4:8], nominalTimeout)
	binary.BigEndian.PutUint32(d[8:12], recommendedTimeout)
	return append(b, d[:]...)
}

// runReportOpcodes implements REPORT SUPPORTED OPERATION CODES (SPC-4
// §6.35) with reporting options 000b (all), 001b (one opcode), 010b (one
// opcode + service action) and 011b (either), with or without RCTD.
func runReportOpcodes(_ *Target, l *lu, c *Command) {
	cdb := c.CDB
	desc := l.desc()
	rctd := cdb[2]&0x80 != 0
	opt := cdb[2] & 0x07
	reqOp := cdb[3]
	reqSA := binary.BigEndian.Uint16(cdb[4:6])
	alloc := int(binary.BigEndian.Uint32(cdb[6:10]))
	switch opt {
	case 0:
		b := make([]byte, 4, 4+64*20)
		add := func(op byte, sa uint16, hasSA bool, cdbLen int) {
			var d [8]byte
			d[0] = op
			binary.BigEndian.PutUint16(d[2:4], sa)
			if hasSA {
				d[5] |= 0x01 // SERVACTV
			}
			if rctd {
				d[5] |= 0x02 // CTDP
			}
			binary.BigEndian.PutUint16(d[6:8], uint16(cdbLen))
			b = append(b, d[:]...)
			if rctd {
				b = appendTimeouts(b)
			}
		}
		for i := range opTable {
			op := &opTable[i]
			if op.run == nil {
				continue
			}
			if op.sas != nil {
				for _, s := range op.sas {
					add(byte(i), s.sa, true, len(s.usage))
				}
				continue
			}
			add(byte(i), 0, false, len(op.usage))
		}
		binary.BigEndian.PutUint32(b[0:4], uint32(len(b)-4))
		c.putIn(b, alloc)
		return
	case 1, 2, 3:
	default:
		c.invalidCDB(desc, 2, 2)
		return
	}
	op := &opTable[reqOp]
	var usage []byte
	switch {
	case op.sas != nil && opt == 1:
		c.invalidCDB(desc, 2, 2) // needs the service action form
		return
	case op.sas == nil && opt == 2 && op.run != nil:
		c.invalidCDB(desc, 2, 2)
		return
	case op.sas != nil:
		for _, s := range op.sas {
			if s.sa == reqSA {
				usage = s.usage
			}
		}
	case op.run != nil:
		usage = op.usage
	}
	b := make([]byte, 4, 4+len(usage)+12)
	if usage == nil {
		b[1] = 0x01 // SUPPORT: not supported
	} else {
		b[1] = 0x03 // SUPPORT: supported as in the standard
		if rctd {
			b[1] |= 0x80 // CTDP
		}
		binary.BigEndian.PutUint16(b[2:4], uint16(len(usage)))
		b = append(b, usage...)
		if rctd {
			b = appendTimeouts(b)
		}
	}
	c.putIn(b, alloc)
}
