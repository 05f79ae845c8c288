package scsi

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func inquiry(evpd bool, page byte, alloc uint16) []byte {
	b := cdb(opInquiry, 6)
	if evpd {
		b[1] = 1
	}
	b[2] = page
	binary.BigEndian.PutUint16(b[3:], alloc)
	return b
}

func TestInquiryStandard(t *testing.T) {
	tg, _ := newTarget(t, LUConfig{VendorID: "ACME", ProductID: "disk"})
	c := run(tg, nexusA, 0, inquiry(false, 0, 255), nil, 255)
	wantGood(t, c)
	d := c.DataIn[:c.InLen]
	if c.InLen < 36 || int(d[4])+5 != c.InLen || c.Needed != c.InLen {
		t.Fatalf("len %d additional %d needed %d", c.InLen, d[4], c.Needed)
	}
	if d[0] != 0 || d[2] != 6 || d[3]&0x0F != 2 || d[7]&0x02 == 0 || d[5]&0x30 != 0x30 {
		t.Fatalf("bad standard data % x", d[:8])
	}
	if string(d[8:16]) != "ACME    " || string(d[16:32]) != "disk            " || string(d[32:36]) != "0001" {
		t.Fatalf("identity %q", d[8:36])
	}
	// Allocation length truncates; 0 transfers nothing.
	for _, a := range []uint16{0, 5, 36} {
		c := run(tg, nexusA, 0, inquiry(false, 0, a), nil, 255)
		wantGood(t, c)
		if c.InLen != int(a) {
			t.Errorf("alloc %d: got %d", a, c.InLen)
		}
	}
	// PAGE CODE without EVPD.
	s := wantSense(t, run(tg, nexusA, 0, inquiry(false, 0x80, 255), nil, 255), KeyIllegalRequest, ASCInvalidFieldInCDB)
	if s.SKS != FieldPointer(true, 2, 7) {
		t.Errorf("field pointer %x", s.SKS)
	}
	// Unknown LUN: qualifier 3, no error.
	c = run(tg, nexusA, 7, inquiry(false, 0, 96), nil, 96)
	wantGood(t, c)
	if c.DataIn[0] != 0x7F {
		t.Errorf("unknown LUN peripheral byte %#x", c.DataIn[0])
	}
}

func TestInquiryVPD(t *testing.T) {
	tg, _ := newTarget(t, LUConfig{Serial: "SER123"})
	get := func(page byte) []byte {
		t.Helper()
		c := run(tg, nexusA, 0, inquiry(true, page, 512), nil, 512)
		wantGood(t, c)
		d := c.DataIn[:c.InLen]
		if d[1] != page || int(binary.BigEndian.Uint16(d[2:4]))+4 != len(d) {
			t.Fatalf("page %#x: header % x len %d", page, d[:4], len(d))
		}
		return d
	}
	sup := get(vpdSupported)
	for _, p := range []byte{0x80, 0x83, 0x86, 0xB0, 0xB1, 0xB2} {
		if bytes.IndexByte(sup[4:], p) < 0 {
			t.Errorf("page %#x not listed", p)
		}
		get(p)
	}
	if string(get(vpdSerial)[4:]) != "SER123" {
		t.Error("serial")
	}
	// Device identification: walk designators.
	d := get(vpdDeviceID)[4:]
	var types []byte
	for len(d) >= 4 {
		l := int(d[3])
		if 4+l > len(d) {
			t.Fatalf("designator overruns page")
		}
		types = append(types, d[1]&0x3F)
		if d[1]&0x0F == 3 && d[4]>>4 != 3 && d[4]>>4 != 6 {
			t.Errorf("NAA type %d", d[4]>>4)
		}
		d = d[4+l:]
	}
	if !bytes.Equal(types, []byte{0x03, 0x01, 0x14, 0x15, 0x18, 0x28}) {
		t.Errorf("designators %x", types)
	}
	b0 := get(vpdBlockLimits)
	if binary.BigEndian.Uint32(b0[8:12]) != defaultMaxTransfer/512 || binary.BigEndian.Uint32(b0[20:24]) != 0 {
		t.Errorf("block limits % x", b0[:24])
	}
	if b2 := get(vpdLBP); b2[5] != 0 {
		t.Errorf("LBP flags %#x", b2[5])
	}
	if b1 := get(vpdBlockChars); binary.BigEndian.Uint16(b1[4:6]) != 1 {
		t.Error("rotation rate")
	}
	wantSense(t, run(tg, nexusA, 0, inquiry(true, 0x99, 255), nil, 255), KeyIllegalRequest, ASCInvalidFieldInCDB)
	// NAA 6 when an OUI is configured.
	tg6, _ := newTarget(t, LUConfig{NAAOUI: 0x001405})
	c := run(tg6, nexusA, 0, inquiry(true, vpdDeviceID, 255), nil, 255)
	if c.DataIn[8]>>4 != 6 || c.DataIn[7] != 16 {
		t.Errorf("NAA6 % x", c.DataIn[4:24])
	}
}

func TestReportLUNs(t *testing.T) {
	tg, _ := newTarget(t, LUConfig{})
	if err := tg.AddLU(300, LUConfig{Backend: &memBackend{b: make([]byte, 4096)}}); err != nil {
		t.Fatal(err)
	}
	rl := func(sel byte, alloc uint32) []byte {
		b := cdb(opReportLUNs, 12)
		b[2] = sel
		binary.BigEndian.PutUint32(b[6:], alloc)
		return b
	}
	// First command after the add sees REPORTED LUNS DATA HAS CHANGED on LU 0.
	wantSense(t, run(tg, nexusA, 0, cdb(opTestUnitReady, 6), nil, 0), KeyUnitAttention, ASCReportedLUNsDataChanged)
	for _, sel := range []byte{0, 2} {
		c := run(tg, nexusA, 5, rl(sel, 64), nil, 64)
		wantGood(t, c)
		want := []byte{0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x41, 0x2C, 0, 0, 0, 0, 0, 0}
		if !bytes.Equal(c.DataIn[:c.InLen], want) {
			t.Errorf("select %d: % x", sel, c.DataIn[:c.InLen])
		}
	}
	c := run(tg, nexusA, 0, rl(1, 64), nil, 64)
	wantGood(t, c)
	if c.InLen != 8 || binary.BigEndian.Uint32(c.DataIn) != 0 {
		t.Errorf("well-known: % x", c.DataIn[:c.InLen])
	}
	wantSense(t, run(tg, nexusA, 0, rl(0, 15), nil, 64), KeyIllegalRequest, ASCInvalidFieldInCDB)
	wantSense(t, run(tg, nexusA, 0, rl(7, 64), nil, 64), KeyIllegalRequest, ASCInvalidFieldInCDB)
	// Truncated to the allocation length.
	c = run(tg, nexusA, 0, rl(0, 16), nil, 64)
	wantGood(t, c)
	if c.InLen != 16 {
		t.Errorf("truncated len %d", c.InLen)
	}
}

func TestReadCapacity(t *testing.T) {
	for _, bs := range []uint32{512, 4096} {
		tg, _ := newTarget(t, LUConfig{BlockSize: bs})
		c := run(tg, nexusA, 0, cdb(opReadCapacity10, 10), nil, 8)
		wantGood(t, c)
		if binary.BigEndian.Uint32(c.DataIn) != testBlocks-1 || binary.BigEndian.Uint32(c.DataIn[4:]) != bs {
			t.Errorf("rc10 % x", c.DataIn)
		}
		rc16 := cdb(opServiceActionIn16, 16)
		rc16[1] = saReadCapacity16
		binary.BigEndian.PutUint32(rc16[10:], 32)
		c = run(tg, nexusA, 0, rc16, nil, 32)
		wantGood(t, c)
		if binary.BigEndian.Uint64(c.DataIn) != testBlocks-1 || binary.BigEndian.Uint32(c.DataIn[8:]) != bs || c.DataIn[14]&0x80 != 0 {
			t.Errorf("rc16 % x", c.DataIn)
		}
		binary.BigEndian.PutUint32(rc16[10:], 12)
		if c = run(tg, nexusA, 0, rc16, nil, 32); c.InLen != 12 {
			t.Errorf("rc16 alloc 12 gave %d", c.InLen)
		}
		bad := cdb(opReadCapacity10, 10)
		bad[5] = 1
		wantSense(t, run(tg, nexusA, 0, bad, nil, 8), KeyIllegalRequest, ASCInvalidFieldInCDB)
		bad[8] = 1 // PMI
		wantGood(t, run(tg, nexusA, 0, bad, nil, 8))
		// Unsupported SERVICE ACTION IN(16) actions are invalid opcodes.
		gls := cdb(opServiceActionIn16, 16)
		gls[1] = 0x11
		wantSense(t, run(tg, nexusA, 0, gls, nil, 32), KeyIllegalRequest, ASCInvalidOpcode)
	}
}

func TestMiscCommands(t *testing.T) {
	tg, m := newTarget(t, LUConfig{WriteBack: true})
	wantGood(t, run(tg, nexusA, 0, cdb(opTestUnitReady, 6), nil, 0))
	wantGood(t, run(tg, nexusA, 0, []byte{opPreventAllow, 0, 0, 0, 1, 0}, nil, 0))
	wantGood(t, run(tg, nexusA, 0, []byte{opPreventAllow, 0, 0, 0, 0, 0}, nil, 0))
	before := m.flushes()
	wantGood(t, run(tg, nexusA, 0, []byte{opStartStopUnit, 1, 0, 0, 0x02, 0}, nil, 0)) // eject
	wantGood(t, run(tg, nexusA, 0, []byte{opStartStopUnit, 0, 0, 0, 0x03, 0}, nil, 0)) // load
	if m.flushes() != before+1 {
		t.Errorf("stop did not flush")
	}
	wantGood(t, run(tg, nexusA, 0, cdb(opTestUnitReady, 6), nil, 0))
	wantSense(t, run(tg, nexusA, 0, []byte{opStartStopUnit, 0, 0, 0, 0x50, 0}, nil, 0), KeyIllegalRequest, ASCInvalidFieldInCDB)
	// Unsupported commands.
	for _, op := range []byte{0x04, 0x07, 0x3B, 0x3C, 0x8C, 0xFF} {
		wantSense(t, run(tg, nexusA, 0, cdb(op, 16), nil, 0), KeyIllegalRequest, ASCInvalidOpcode)
	}
	// Unknown LUN.
	wantSense(t, run(tg, nexusA, 9, cdb(opTestUnitReady, 6), nil, 0), KeyIllegalRequest, ASCLUNotSupported)
	wantSense(t, run(tg, nexusA, 9, rw10(opRead10, 0, 1), nil, 512), KeyIllegalRequest, ASCLUNotSupported)
	// Empty CDB.
	wantSense(t, run(tg, nexusA, 0, nil, nil, 0), KeyIllegalRequest, ASCInvalidOpcode)
}

func TestRequestSense(t *testing.T) {
	tg, _ := newTarget(t, LUConfig{})
	rs := func(desc bool) []byte {
		b := []byte{opRequestSense, 0, 0, 0, 252, 0}
		if desc {
			b[1] = 1
		}
		return b
	}
	c := run(tg, nexusA, 0, rs(false), nil, 252)
	wantGood(t, c)
	if s, _ := ParseSense(c.DataIn[:c.InLen]); c.DataIn[0] != 0x70 || s.Key != KeyNoSense || s.ASC != 0 {
		t.Errorf("no sense: % x", c.DataIn[:c.InLen])
	}
	// A fresh nexus gets its power-on UA through REQUEST SENSE, with GOOD status.
	c = run(tg, nexusB, 0, rs(true), nil, 252)
	wantGood(t, c)
	if s, _ := ParseSense(c.DataIn[:c.InLen]); c.DataIn[0] != 0x72 || s.Key != KeyUnitAttention || s.ASC != ASCPowerOnResetOccurred {
		t.Errorf("UA via request sense: % x", c.DataIn[:c.InLen])
	}
	wantGood(t, run(tg, nexusB, 0, cdb(opTestUnitReady, 6), nil, 0))
	// Unknown LUN: LOGICAL UNIT NOT SUPPORTED as data, GOOD status.
	c = run(tg, nexusA, 4, rs(false), nil, 252)
	wantGood(t, c)
	if s, _ := ParseSense(c.DataIn[:c.InLen]); s.ASC != ASCLUNotSupported {
		t.Errorf("unknown LUN sense % x", c.DataIn[:c.InLen])
	}
}

func TestReportSupportedOpcodes(t *testing.T) {
	tg, _ := newTarget(t, LUConfig{})
	rsoc := func(rctd bool, opt, op byte, sa uint16) []byte {
		b := cdb(opMaintenanceIn, 12)
		b[1] = saReportOpcodes
		b[2] = opt
		if rctd {
			b[2] |= 0x80
		}
		b[3] = op
		binary.BigEndian.PutUint16(b[4:], sa)
		binary.BigEndian.PutUint32(b[6:], 8192)
		return b
	}
	for _, rctd := range []bool{false, true} {
		c := run(tg, nexusA, 0, rsoc(rctd, 0, 0, 0), nil, 8192)
		wantGood(t, c)
		d := c.DataIn[:c.InLen]
		if int(binary.BigEndian.Uint32(d))+4 != len(d) {
			t.Fatalf("length %d vs %d", binary.BigEndian.Uint32(d), len(d))
		}
		step := 8
		if rctd {
			step = 20
		}
		seen := 0
		for p := 4; p < len(d); p += step {
			op, sa, servactv := d[p], binary.BigEndian.Uint16(d[p+2:]), d[p+5]&1 != 0
			if (d[p+5]&2 != 0) != rctd {
				t.Errorf("op %#x CTDP", op)
			}
			if rctd && binary.BigEndian.Uint16(d[p+8:]) != 0x0A {
				t.Errorf("op %#x timeouts descriptor", op)
			}
			opt := byte(1)
			if servactv {
				opt = 2
			}
			one := run(tg, nexusA, 0, rsoc(false, opt, op, sa), nil, 64)
			wantGood(t, one)
			u := one.DataIn[:one.InLen]
			if u[1]&7 != 3 || int(binary.BigEndian.Uint16(u[2:])) != len(u)-4 || u[4] != op ||
				int(binary.BigEndian.Uint16(d[p+6:])) != len(u)-4 {
				t.Errorf("op %#x/%#x one-command % x", op, sa, u)
			}
			if servactv && u[5]&0x1F != byte(sa) {
				t.Errorf("op %#x sa %#x usage byte1 %#x", op, sa, u[5])
			}
			seen++
		}
		if seen < 25 {
			t.Errorf("only %d commands reported", seen)
		}
	}
	// Unsupported opcode: SUPPORT = 001b.
	c := run(tg, nexusA, 0, rsoc(false, 1, 0x3B, 0), nil, 64)
	wantGood(t, c)
	if c.DataIn[1]&7 != 1 {
		t.Errorf("WRITE BUFFER support %#x", c.DataIn[1])
	}
	wantSense(t, run(tg, nexusA, 0, rsoc(false, 1, opServiceActionIn16, 0x10), nil, 64), KeyIllegalRequest, ASCInvalidFieldInCDB)
	wantSense(t, run(tg, nexusA, 0, rsoc(false, 2, opRead10, 0), nil, 64), KeyIllegalRequest, ASCInvalidFieldInCDB)
	wantSense(t, run(tg, nexusA, 0, rsoc(false, 5, opRead10, 0), nil, 64), KeyIllegalRequest, ASCInvalidFieldInCDB)
	c = run(tg, nexusA, 0, rsoc(true, 1, opRead10, 0), nil, 64)
	if c.InLen != 4+10+12 || c.DataIn[1] != 0x83 {
		t.Errorf("rctd one-command % x", c.DataIn[:c.InLen])
	}
}
