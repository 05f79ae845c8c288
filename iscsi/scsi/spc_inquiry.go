package scsi

import "encoding/binary"

// VPD page codes.
const (
	vpdSupported   = 0x00
	vpdSerial      = 0x80
	vpdDeviceID    = 0x83
	vpdExtended    = 0x86
	vpd3PC         = 0x8F
	vpdBlockLimits = 0xB0
	vpdBlockChars  = 0xB1
	vpdLBP         = 0xB2
)

var vpdPages = []byte{vpdSupported, vpdSerial, vpdDeviceID, vpdExtended, vpd3PC, vpdBlockLimits, vpdBlockChars, vpdLBP}

// runInquiry implements INQUIRY (SPC-4 §6.6). For a LUN that does not exist
// it returns standard data with peripheral qualifier 011b.
func runInquiry(_ *Target, l *lu, c *Command) {
	cdb := c.CDB
	evpd := cdb[1]&0x01 != 0
	page := cdb[2]
	alloc := int(binary.BigEndian.Uint16(cdb[3:5]))
	desc := l.desc()
	if cdb[1]&0xFE != 0 { // CMDDT (obsolete) and reserved bits
		c.invalidCDB(desc, 1, 1)
		return
	}
	if !evpd {
		if page != 0 {
			c.invalidCDB(desc, 2, 7)
			return
		}
		c.putIn(standardInquiry(l), alloc)
		return
	}
	if l == nil {
		// No VPD for a nonexistent unit: only the qualifier is reported.
		b := []byte{0x7F, page, 0, 0}
		c.putIn(b, alloc)
		return
	}
	var b []byte
	switch page {
	case vpdSupported:
		b = vpdHeader(page, vpdPages)
	case vpdSerial:
		b = vpdHeader(page, []byte(l.serial))
	case vpdDeviceID:
		b = vpdHeader(page, deviceIDs(l, &c.Nexus))
	case vpdExtended:
		b = vpdExtendedPage(l)
	case vpd3PC:
		b = vpdHeader(page, vpdThirdPartyCopyPage(l))
	case vpdBlockLimits:
		b = vpdBlockLimitsPage(l)
	case vpdBlockChars:
		p := make([]byte, 0x3C)
		binary.BigEndian.PutUint16(p[0:2], 1) // MEDIUM ROTATION RATE: non-rotating
		p[3] = 0x40 | 0x10                    // WABEREQ, WACEREQ 01b: sanitized blocks read as zeros
		b = vpdHeader(page, p)
	case vpdLBP:
		b = vpdHeader(page, vpdLBPPage(l))
	default:
		c.invalidCDB(desc, 2, 7)
		return
	}
	c.putIn(b, alloc)
}

func vpdHeader(page byte, body []byte) []byte {
	b := make([]byte, 4, 4+len(body))
	b[0] = 0x00 // connected, direct access block device
	b[1] = page
	binary.BigEndian.PutUint16(b[2:4], uint16(len(body)))
	return append(b, body...)
}

func standardInquiry(l *lu) []byte {
	b := make([]byte, 66)
	if l == nil {
		b[0] = 0x7F // qualifier 011b: not capable of supporting a unit here
	}
	b[2] = 0x06        // SPC-4
	b[3] = 0x10 | 0x02 // HISUP, RESPONSE DATA FORMAT 2
	b[4] = byte(len(b) - 5)
	b[5] = 0x08 | 0x30 // 3PC: EXTENDED COPY; TPGS 11b: implicit and explicit ALUA
	b[7] = 0x02        // CMDQUE
	if l != nil {
		if l.removable {
			b[1] = 0x80 // RMB
		}
		copy(b[8:16], l.vendor[:])
		copy(b[16:32], l.product[:])
		copy(b[32:36], l.rev[:])
	} else {
		copy(b[8:36], "                            ")
	}
	// Version descriptors: SAM-5, iSCSI, SPC-4, SBC-3.
	for i, v := range []uint16{0x00A0, 0x0960, 0x0460, 0x04C0} {
		binary.BigEndian.PutUint16(b[58+2*i:], v)
	}
	return b
}

// deviceIDs builds the designation descriptors of VPD page 83h: the logical
// unit's NAA and T10 vendor ID designators, and for the target port the
// command came through its relative target port identifier and target port
// group (both the port's tag, see PortGroup) and SCSI name string, plus the
// target device name.
func deviceIDs(l *lu, n *Nexus) []byte {
	var b []byte
	add := func(proto, codeSet, assocType byte, piv bool, id []byte) {
		h := []byte{proto<<4 | codeSet, assocType, 0, byte(len(id))}
		if piv {
			h[1] |= 0x80
		}
		b = append(append(b, h...), id...)
	}
	// LU association: NAA (type 3), binary.
	add(0, 1, 0x03, false, l.naa)
	// T10 vendor ID (type 1), ASCII: vendor + product + serial.
	t10 := append(append(append([]byte{}, l.vendor[:]...), l.product[:]...), l.serial...)
	add(0, 2, 0x01, false, t10)
	if n.TargetName != "" {
		const iscsiProto = 5
		tag := portTag(n)
		// Target port: relative target port identifier (type 4).
		add(iscsiProto, 1, 0x10|0x04, true, []byte{0, 0, byte(tag >> 8), byte(tag)})
		// Target port: target port group (type 5).
		add(iscsiProto, 1, 0x10|0x05, true, []byte{0, 0, byte(tag >> 8), byte(tag)})
		// Target port: SCSI name string (type 8), "<name>,t,0x<tpgt>".
		port := scsiName(n.TargetName + ",t,0x" + hex4(n.TPGT))
		add(iscsiProto, 3, 0x10|0x08, true, port)
		// Target device: SCSI name string.
		add(iscsiProto, 3, 0x20|0x08, true, scsiName(n.TargetName))
	}
	return b
}

// scsiName null-terminates and pads s to a multiple of 4 bytes (SPC-4 §7.8.6.11).
func scsiName(s string) []byte {
	n := (len(s) + 4) &^ 3
	if n > 256 {
		n = 256
		s = s[:255]
	}
	b := make([]byte, n)
	copy(b, s)
	return b
}

func hex4(v uint16) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[v>>12], digits[v>>8&0xF], digits[v>>4&0xF], digits[v&0xF]})
}

func vpdExtendedPage(l *lu) []byte {
	p := make([]byte, 0x3C)
	p[1] = 0x01 // SIMPSUP
	if l.wce.Load() {
		p[2] = 0x01 // V_SUP: volatile cache
	}
	p[3] = 0x01 // LUICLR
	return vpdHeader(vpdExtended, p)
}

func vpdBlockLimitsPage(l *lu) []byte {
	p := make([]byte, 0x3C)
	// bytes relative to the page start minus 4
	pbBlocks := uint32(1) << l.lbppbe                    // logical blocks per physical block
	binary.BigEndian.PutUint16(p[2:4], uint16(pbBlocks)) // OPTIMAL TRANSFER LENGTH GRANULARITY
	binary.BigEndian.PutUint32(p[4:8], l.maxXfer)        // MAXIMUM TRANSFER LENGTH
	binary.BigEndian.PutUint32(p[8:12], l.maxXfer)       // OPTIMAL TRANSFER LENGTH
	binary.BigEndian.PutUint32(p[12:16], l.maxXfer)      // MAXIMUM PREFETCH LENGTH
	p[0] = 0x01                                          // WSNZ
	p[1] = maxCompareAndWriteBlocks                      // MAXIMUM COMPARE AND WRITE LENGTH
	if l.thin {
		binary.BigEndian.PutUint32(p[16:20], maxUnmapLBAs)
		binary.BigEndian.PutUint32(p[20:24], maxUnmapDescriptors)
		binary.BigEndian.PutUint32(p[24:28], pbBlocks) // OPTIMAL UNMAP GRANULARITY
	}
	binary.BigEndian.PutUint64(p[32:40], maxWriteSameBlocks)
	binary.BigEndian.PutUint32(p[40:44], l.maxAtomic()) // MAXIMUM ATOMIC TRANSFER LENGTH
	binary.BigEndian.PutUint32(p[44:48], 1)             // ATOMIC ALIGNMENT
	binary.BigEndian.PutUint32(p[48:52], 1)             // ATOMIC TRANSFER LENGTH GRANULARITY
	return vpdHeader(vpdBlockLimits, p)
}

// vpdLBPPage is the body of the logical block provisioning VPD page (SBC-3
// §6.6.4).
func vpdLBPPage(l *lu) []byte {
	p := make([]byte, 4)
	if l.thin {
		p[1] = 0x80 | 0x40 | 0x20 // LBPU, LBPWS, LBPWS10
		if l.lbprz {
			p[1] |= 0x04 // LBPRZ
		}
		p[2] = 0x02 // PROVISIONING TYPE: thin provisioned
	}
	return p
}
