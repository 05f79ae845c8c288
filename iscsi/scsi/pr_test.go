package scsi

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

func proutCDB(sa, typ byte, plen uint32) []byte {
	b := cdb(opPROut, 10)
	b[1] = sa
	b[2] = typ
	if plen == 0 {
		plen = 24
	}
	binary.BigEndian.PutUint32(b[5:], plen)
	return b
}

func proutParams(rk, sark uint64, flags byte) []byte {
	b := make([]byte, 24)
	binary.BigEndian.PutUint64(b[0:], rk)
	binary.BigEndian.PutUint64(b[8:], sark)
	b[20] = flags
	return b
}

func prinCDB(sa byte, alloc uint16) []byte {
	b := cdb(opPRIn, 10)
	b[1] = sa
	binary.BigEndian.PutUint16(b[7:], alloc)
	return b
}

var nexusC = Nexus{InitiatorName: "iqn.2024-01.test:c", ISID: 3, TargetName: "iqn.2024-01.test:tgt", TPGT: 1}

// prTarget returns a target whose LU has seen nexusA, nexusB and nexusC
// (power-on unit attentions consumed).
func prTarget(t *testing.T, cfg LUConfig) *Target {
	t.Helper()
	tg, _ := newTarget(t, cfg)
	for _, n := range []Nexus{nexusB, nexusC} {
		run(tg, n, 0, cdb(opTestUnitReady, 6), nil, 0)
	}
	return tg
}

func register(t *testing.T, tg *Target, n Nexus, key uint64) {
	t.Helper()
	wantGood(t, run(tg, n, 0, proutCDB(proutRegisterIgnore, 0, 0), proutParams(0, key, 0), 0))
}

func wantConflict(t *testing.T, c *Command) {
	t.Helper()
	if c.Status != ReservationConflict {
		s, _ := ParseSense(c.Sense)
		t.Fatalf("status %#x sense %+v, want RESERVATION CONFLICT", c.Status, s)
	}
}

func readKeys(t *testing.T, tg *Target, n Nexus) (uint32, []uint64) {
	t.Helper()
	c := run(tg, n, 0, prinCDB(prinReadKeys, 256), nil, 256)
	wantGood(t, c)
	d := c.DataIn[:c.InLen]
	var keys []uint64
	for i := 0; i < int(binary.BigEndian.Uint32(d[4:8])); i += 8 {
		keys = append(keys, binary.BigEndian.Uint64(d[8+i:]))
	}
	return binary.BigEndian.Uint32(d[0:4]), keys
}

func readReservation(t *testing.T, tg *Target, n Nexus) (key uint64, typ byte, ok bool) {
	t.Helper()
	c := run(tg, n, 0, prinCDB(prinReadReservation, 64), nil, 64)
	wantGood(t, c)
	d := c.DataIn[:c.InLen]
	if binary.BigEndian.Uint32(d[4:8]) == 0 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint64(d[8:16]), d[21] & 0x0F, true
}

// TestPRAccessMatrix checks, for every reservation type, which commands a
// registered and an unregistered non-holder may run (SPC-4 table 62, SBC-3
// table 13) and that the holder may run everything.
func TestPRAccessMatrix(t *testing.T) {
	type access struct{ read, write bool }
	for _, tc := range []struct {
		typ          byte
		name         string
		reg, unreg   access
		holderSeesAR bool
	}{
		{prWriteExclusive, "WE", access{true, false}, access{true, false}, false},
		{prExclusiveAccess, "EA", access{false, false}, access{false, false}, false},
		{prWriteExclusiveRO, "WERO", access{true, true}, access{true, false}, false},
		{prExclusiveRO, "EARO", access{true, true}, access{false, false}, false},
		{prWriteExclusiveAR, "WEAR", access{true, true}, access{true, false}, true},
		{prExclusiveAR, "EAAR", access{true, true}, access{false, false}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := prTarget(t, LUConfig{})
			register(t, tg, nexusA, 0xA)
			register(t, tg, nexusB, 0xB)
			wantGood(t, run(tg, nexusA, 0, proutCDB(proutReserve, tc.typ, 0), proutParams(0xA, 0, 0), 0))
			key, typ, ok := readReservation(t, tg, nexusC)
			wantKey := uint64(0xA)
			if tc.holderSeesAR {
				wantKey = 0
			}
			if !ok || typ != tc.typ || key != wantKey {
				t.Fatalf("READ RESERVATION key %#x type %d ok %v", key, typ, ok)
			}
			check := func(n Nexus, want access) {
				t.Helper()
				rd := run(tg, n, 0, rw10(opRead10, 1, 1), nil, 512)
				wr := run(tg, n, 0, rw10(opWrite10, 1, 1), make([]byte, 512), 0)
				if (rd.Status == Good) != want.read || !want.read && rd.Status != ReservationConflict {
					t.Errorf("%s read status %#x, want allowed=%v", n.InitiatorName, rd.Status, want.read)
				}
				if (wr.Status == Good) != want.write || !want.write && wr.Status != ReservationConflict {
					t.Errorf("%s write status %#x, want allowed=%v", n.InitiatorName, wr.Status, want.write)
				}
				// Always allowed.
				for _, c := range [][]byte{inquiry(false, 0, 36), cdb(opTestUnitReady, 6), prinCDB(prinReadKeys, 64),
					{opReportLUNs, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}} {
					if x := run(tg, n, 0, c, nil, 256); x.Status != Good {
						t.Errorf("%s op %#x status %#x", n.InitiatorName, c[0], x.Status)
					}
				}
			}
			check(nexusA, access{true, true})
			check(nexusB, tc.reg)
			check(nexusC, tc.unreg)
			// MODE SELECT/SENSE conflicts like a write for non-registrants.
			if c := run(tg, nexusC, 0, modeSense6(false, 0, pageCaching, 0, 255), nil, 255); c.Status != ReservationConflict {
				t.Errorf("unregistered MODE SENSE status %#x", c.Status)
			}
			// RESERVE(6) conflicts while registrations exist, even from the holder.
			wantConflict(t, run(tg, nexusA, 0, cdb(opReserve6, 6), nil, 0))
		})
	}
}

func TestPRRegisterReserveRelease(t *testing.T) {
	tg := prTarget(t, LUConfig{})
	// REGISTER with a non-zero reservation key while unregistered conflicts.
	wantConflict(t, run(tg, nexusA, 0, proutCDB(proutRegister, 0, 0), proutParams(5, 0xA, 0), 0))
	wantGood(t, run(tg, nexusA, 0, proutCDB(proutRegister, 0, 0), proutParams(0, 0xA, 0), 0))
	gen, keys := readKeys(t, tg, nexusB)
	if gen != 1 || len(keys) != 1 || keys[0] != 0xA {
		t.Fatalf("gen %d keys %x", gen, keys)
	}
	// Re-register with the wrong key conflicts; with the right key changes it.
	wantConflict(t, run(tg, nexusA, 0, proutCDB(proutRegister, 0, 0), proutParams(0xB, 0xC, 0), 0))
	wantGood(t, run(tg, nexusA, 0, proutCDB(proutRegister, 0, 0), proutParams(0xA, 0xAA, 0), 0))
	register(t, tg, nexusB, 0xB)
	// RESERVE with the wrong key or unregistered conflicts.
	wantConflict(t, run(tg, nexusA, 0, proutCDB(proutReserve, prExclusiveAccess, 0), proutParams(0xA, 0, 0), 0))
	wantConflict(t, run(tg, nexusC, 0, proutCDB(proutReserve, prExclusiveAccess, 0), proutParams(0, 0, 0), 0))
	wantGood(t, run(tg, nexusA, 0, proutCDB(proutReserve, prExclusiveAccess, 0), proutParams(0xAA, 0, 0), 0))
	// Same type again is GOOD, another type or another nexus conflicts.
	wantGood(t, run(tg, nexusA, 0, proutCDB(proutReserve, prExclusiveAccess, 0), proutParams(0xAA, 0, 0), 0))
	wantConflict(t, run(tg, nexusA, 0, proutCDB(proutReserve, prWriteExclusive, 0), proutParams(0xAA, 0, 0), 0))
	wantConflict(t, run(tg, nexusB, 0, proutCDB(proutReserve, prExclusiveAccess, 0), proutParams(0xB, 0, 0), 0))
	// Invalid type and scope.
	wantSense(t, run(tg, nexusA, 0, proutCDB(proutReserve, 2, 0), proutParams(0xAA, 0, 0), 0), KeyIllegalRequest, ASCInvalidFieldInCDB)
	wantSense(t, run(tg, nexusA, 0, proutCDB(proutReserve, 0x13, 0), proutParams(0xAA, 0, 0), 0), KeyIllegalRequest, ASCInvalidFieldInCDB)
	// Release by a non-holder is a no-op; with the wrong type an error.
	wantGood(t, run(tg, nexusB, 0, proutCDB(proutRelease, prExclusiveAccess, 0), proutParams(0xB, 0, 0), 0))
	if _, _, ok := readReservation(t, tg, nexusA); !ok {
		t.Fatal("non-holder release released")
	}
	wantSense(t, run(tg, nexusA, 0, proutCDB(proutRelease, prWriteExclusive, 0), proutParams(0xAA, 0, 0), 0), KeyIllegalRequest, ASCInvalidReleaseOfPR)
	wantGood(t, run(tg, nexusA, 0, proutCDB(proutRelease, prExclusiveAccess, 0), proutParams(0xAA, 0, 0), 0))
	if _, _, ok := readReservation(t, tg, nexusA); ok {
		t.Fatal("still reserved")
	}
	// Unregistering the holder of a registrants-only reservation releases
	// it and tells the other registrants RESERVATIONS RELEASED.
	wantGood(t, run(tg, nexusA, 0, proutCDB(proutReserve, prWriteExclusiveRO, 0), proutParams(0xAA, 0, 0), 0))
	wantGood(t, run(tg, nexusA, 0, proutCDB(proutRegister, 0, 0), proutParams(0xAA, 0, 0), 0))
	if _, _, ok := readReservation(t, tg, nexusA); ok {
		t.Fatal("reservation survived its holder's unregistration")
	}
	wantSense(t, run(tg, nexusB, 0, cdb(opTestUnitReady, 6), nil, 0), KeyUnitAttention, ASCReservationsReleased)
	wantGood(t, run(tg, nexusC, 0, cdb(opTestUnitReady, 6), nil, 0))
	// The same for an exclusive-access reservation gives no unit attention.
	register(t, tg, nexusA, 0xA)
	wantGood(t, run(tg, nexusA, 0, proutCDB(proutReserve, prExclusiveAccess, 0), proutParams(0xA, 0, 0), 0))
	wantGood(t, run(tg, nexusA, 0, proutCDB(proutRegister, 0, 0), proutParams(0xA, 0, 0), 0))
	wantGood(t, run(tg, nexusB, 0, cdb(opTestUnitReady, 6), nil, 0))
	// Parameter list length must be 24.
	wantSense(t, run(tg, nexusB, 0, proutCDB(proutRegister, 0, 23), proutParams(0xB, 0, 0)[:23], 0), KeyIllegalRequest, ASCParamListLengthError)
	wantSense(t, run(tg, nexusB, 0, proutCDB(proutRegister, 0, 28), append(proutParams(0xB, 0, 0), 0, 0, 0, 0), 0), KeyIllegalRequest, ASCParamListLengthError)
	// APTPL without a PR file is an invalid field in the parameter list.
	s := wantSense(t, run(tg, nexusB, 0, proutCDB(proutRegister, 0, 0), proutParams(0xB, 0xB, 0x01), 0), KeyIllegalRequest, ASCInvalidFieldInParamList)
	if s.SKS != FieldPointer(false, 20, 0) {
		t.Errorf("APTPL field pointer %x", s.SKS)
	}
	// Unknown service actions are invalid fields, not invalid opcodes.
	wantSense(t, run(tg, nexusB, 0, prinCDB(4, 64), nil, 64), KeyIllegalRequest, ASCInvalidFieldInCDB)
	wantSense(t, run(tg, nexusB, 0, proutCDB(9, 0, 0), proutParams(0, 0, 0), 0), KeyIllegalRequest, ASCInvalidFieldInCDB)
}

func TestPRClearAndPreempt(t *testing.T) {
	tg := prTarget(t, LUConfig{})
	register(t, tg, nexusA, 0xA)
	register(t, tg, nexusB, 0xB)
	register(t, tg, nexusC, 0xC)
	wantGood(t, run(tg, nexusA, 0, proutCDB(proutReserve, prWriteExclusive, 0), proutParams(0xA, 0, 0), 0))
	// PREEMPT of the holder's key: B becomes holder with a new type, A loses
	// its registration (REGISTRATIONS PREEMPTED), C gets RESERVATIONS
	// RELEASED because the type changed.
	var aborted []Nexus
	tg.SetPreemptAbortFunc(func(lun uint64, n Nexus) { aborted = append(aborted, n) })
	wantGood(t, run(tg, nexusB, 0, proutCDB(proutPreemptAbort, prExclusiveAccess, 0), proutParams(0xB, 0xA, 0), 0))
	if len(aborted) != 1 || aborted[0] != nexusA {
		t.Errorf("aborted %v", aborted)
	}
	key, typ, ok := readReservation(t, tg, nexusB)
	if !ok || key != 0xB || typ != prExclusiveAccess {
		t.Fatalf("after preempt: %#x %d %v", key, typ, ok)
	}
	wantSense(t, run(tg, nexusA, 0, cdb(opTestUnitReady, 6), nil, 0), KeyUnitAttention, ASCRegistrationsPreempted)
	wantSense(t, run(tg, nexusC, 0, cdb(opTestUnitReady, 6), nil, 0), KeyUnitAttention, ASCReservationsReleased)
	// PREEMPT of a key nobody holds conflicts; SARK 0 without an
	// all-registrants reservation is an invalid field.
	wantConflict(t, run(tg, nexusB, 0, proutCDB(proutPreempt, prExclusiveAccess, 0), proutParams(0xB, 0x77, 0), 0))
	wantSense(t, run(tg, nexusB, 0, proutCDB(proutPreempt, prExclusiveAccess, 0), proutParams(0xB, 0, 0), 0), KeyIllegalRequest, ASCInvalidFieldInParamList)
	// PREEMPT of a non-holder's registration removes it only.
	wantGood(t, run(tg, nexusB, 0, proutCDB(proutPreempt, prExclusiveAccess, 0), proutParams(0xB, 0xC, 0), 0))
	if _, keys := readKeys(t, tg, nexusB); len(keys) != 1 || keys[0] != 0xB {
		t.Fatalf("keys %x", keys)
	}
	// All-registrants reservation preempted with SARK 0.
	register(t, tg, nexusA, 0xA)
	wantGood(t, run(tg, nexusB, 0, proutCDB(proutRelease, prExclusiveAccess, 0), proutParams(0xB, 0, 0), 0))
	wantGood(t, run(tg, nexusA, 0, proutCDB(proutReserve, prWriteExclusiveAR, 0), proutParams(0xA, 0, 0), 0))
	wantGood(t, run(tg, nexusB, 0, proutCDB(proutPreempt, prWriteExclusive, 0), proutParams(0xB, 0, 0), 0))
	if key, typ, _ := readReservation(t, tg, nexusB); key != 0xB || typ != prWriteExclusive {
		t.Fatalf("after AR preempt: %#x %d", key, typ)
	}
	// CLEAR removes everything and tells the others RESERVATIONS PREEMPTED.
	wantSense(t, run(tg, nexusC, 0, cdb(opTestUnitReady, 6), nil, 0), KeyUnitAttention, ASCRegistrationsPreempted)
	register(t, tg, nexusC, 0xC)
	wantConflict(t, run(tg, nexusC, 0, proutCDB(proutClear, 0, 0), proutParams(0xD, 0, 0), 0))
	gen, _ := readKeys(t, tg, nexusC)
	wantGood(t, run(tg, nexusC, 0, proutCDB(proutClear, 0, 0), proutParams(0xC, 0, 0), 0))
	gen2, keys := readKeys(t, tg, nexusC)
	if len(keys) != 0 || gen2 != gen+1 {
		t.Fatalf("after clear gen %d->%d keys %x", gen, gen2, keys)
	}
	if _, _, ok := readReservation(t, tg, nexusC); ok {
		t.Fatal("reserved after CLEAR")
	}
	wantSense(t, run(tg, nexusB, 0, cdb(opTestUnitReady, 6), nil, 0), KeyUnitAttention, ASCReservationsPreempted)
}

func tidFor(n Nexus) []byte {
	r := prReg{n: n}
	return transportID(&r)
}

func TestPRRegisterAndMoveAndFullStatus(t *testing.T) {
	tg := prTarget(t, LUConfig{})
	// REGISTER with SPEC_I_PT and ALL_TG_PT registers A and C at once.
	tid := tidFor(nexusC)
	p := append(proutParams(0, 0xA, 0x0C), 0, 0, 0, byte(len(tid)))
	p = append(p, tid...)
	wantGood(t, run(tg, nexusA, 0, proutCDB(proutRegister, 0, uint32(len(p))), p, 0))
	if _, keys := readKeys(t, tg, nexusB); len(keys) != 2 {
		t.Fatalf("SPEC_I_PT keys %x", keys)
	}
	// C is registered through any target port (ALL_TG_PT).
	other := nexusC
	other.TPGT = 9
	run(tg, other, 0, cdb(opTestUnitReady, 6), nil, 0)
	wantGood(t, run(tg, other, 0, proutCDB(proutRegister, 0, 0), proutParams(0xA, 0xC, 0), 0))
	wantGood(t, run(tg, nexusA, 0, proutCDB(proutReserve, prExclusiveAccess, 0), proutParams(0xA, 0, 0), 0))
	// REGISTER AND MOVE to B with UNREG.
	tid = tidFor(nexusB)
	mv := make([]byte, 24, 24+len(tid))
	binary.BigEndian.PutUint64(mv[0:], 0xA)
	binary.BigEndian.PutUint64(mv[8:], 0xB)
	mv[17] = 0x02 // UNREG
	binary.BigEndian.PutUint16(mv[18:], 1)
	binary.BigEndian.PutUint32(mv[20:], uint32(len(tid)))
	mv = append(mv, tid...)
	wantConflict(t, run(tg, nexusC, 0, proutCDB(proutRegisterMove, prExclusiveAccess, uint32(len(mv))), mv, 0))
	wantGood(t, run(tg, nexusA, 0, proutCDB(proutRegisterMove, prExclusiveAccess, uint32(len(mv))), mv, 0))
	if key, typ, ok := readReservation(t, tg, nexusB); !ok || key != 0xB || typ != prExclusiveAccess {
		t.Fatalf("after move: %#x %d %v", key, typ, ok)
	}
	wantConflict(t, run(tg, nexusA, 0, rw10(opRead10, 0, 1), nil, 512))
	wantGood(t, run(tg, nexusB, 0, rw10(opRead10, 0, 1), nil, 512))
	// READ FULL STATUS lists B (holder) and C (all target ports).
	c := run(tg, nexusB, 0, prinCDB(prinReadFullStatus, 1024), nil, 1024)
	wantGood(t, c)
	d := c.DataIn[:c.InLen]
	type st struct {
		key     uint64
		holder  bool
		allTgPt bool
		name    string
	}
	var got []st
	for off := 8; off < 8+int(binary.BigEndian.Uint32(d[4:8])); {
		e := d[off:]
		tl := int(binary.BigEndian.Uint32(e[20:24]))
		r, _, ok := parseTransportID(e[24 : 24+tl])
		if !ok {
			t.Fatalf("bad TransportID % x", e[24:24+tl])
		}
		got = append(got, st{binary.BigEndian.Uint64(e), e[12]&1 != 0, e[12]&2 != 0, r.n.InitiatorName})
		off += 24 + tl
	}
	if len(got) != 2 || got[0] != (st{0xC, false, true, nexusC.InitiatorName}) || got[1] != (st{0xB, true, false, nexusB.InitiatorName}) {
		t.Fatalf("full status %+v", got)
	}
	// REPORT CAPABILITIES: no PTPL_C without a PR file.
	c = run(tg, nexusB, 0, prinCDB(prinReportCaps, 8), nil, 8)
	wantGood(t, c)
	if c.DataIn[2]&0x01 != 0 || c.DataIn[2]&0x0C != 0x0C || c.DataIn[4] != 0xEA || c.DataIn[5] != 0x01 {
		t.Errorf("capabilities % x", c.DataIn[:8])
	}
}

func TestPRPersistAPTPL(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "lu0.pr")
	m := &memBackend{b: make([]byte, testBlocks*512)}
	tg := NewTarget(nil)
	if err := tg.AddLU(0, LUConfig{Backend: m, PRFile: file}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []Nexus{nexusA, nexusB} {
		run(tg, n, 0, cdb(opTestUnitReady, 6), nil, 0)
	}
	wantGood(t, run(tg, nexusA, 0, proutCDB(proutRegisterIgnore, 0, 0), proutParams(0, 0xA, 0x01), 0))
	wantGood(t, run(tg, nexusB, 0, proutCDB(proutRegisterIgnore, 0, 0), proutParams(0, 0xB, 0x05), 0))
	wantGood(t, run(tg, nexusA, 0, proutCDB(proutReserve, prExclusiveRO, 0), proutParams(0xA, 0, 0), 0))
	gen, _ := readKeys(t, tg, nexusA)
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("PR file not written: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("stray files: %v", ents)
	}
	c := run(tg, nexusA, 0, prinCDB(prinReportCaps, 8), nil, 8)
	if c.DataIn[2]&0x01 == 0 || c.DataIn[3]&0x01 == 0 {
		t.Errorf("PTPL_C/PTPL_A % x", c.DataIn[:4])
	}
	// Simulated power loss: a new target loads the file.
	tg2 := NewTarget(nil)
	if err := tg2.AddLU(0, LUConfig{Backend: m, PRFile: file}); err != nil {
		t.Fatal(err)
	}
	run(tg2, nexusC, 0, cdb(opTestUnitReady, 6), nil, 0)
	gen2, keys := readKeys(t, tg2, nexusC)
	if gen2 != gen || len(keys) != 2 || keys[0] != 0xA || keys[1] != 0xB {
		t.Fatalf("reloaded gen %d keys %x (want gen %d)", gen2, keys, gen)
	}
	if key, typ, ok := readReservation(t, tg2, nexusC); !ok || key != 0xA || typ != prExclusiveRO {
		t.Fatalf("reloaded reservation %#x %d %v", key, typ, ok)
	}
	run(tg2, nexusB, 0, cdb(opTestUnitReady, 6), nil, 0)
	wantConflict(t, run(tg2, nexusC, 0, rw10(opRead10, 0, 1), nil, 512))
	wantGood(t, run(tg2, nexusB, 0, rw10(opRead10, 0, 1), nil, 512))
	// ALL_TG_PT survives the round trip: B is registered through port 7.
	bOther := nexusB
	bOther.TPGT = 7
	run(tg2, bOther, 0, cdb(opTestUnitReady, 6), nil, 0)
	wantGood(t, run(tg2, bOther, 0, rw10(opRead10, 0, 1), nil, 512))
	// Registering with APTPL=0 removes the file.
	run(tg2, nexusA, 0, cdb(opTestUnitReady, 6), nil, 0)
	wantGood(t, run(tg2, nexusA, 0, proutCDB(proutRegister, 0, 0), proutParams(0xA, 0xA, 0), 0))
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("PR file still present: %v", err)
	}
	// A corrupt file fails AddLU.
	os.WriteFile(file, []byte("{"), 0o600)
	if err := NewTarget(nil).AddLU(0, LUConfig{Backend: m, PRFile: file}); err == nil {
		t.Fatal("corrupt PR file accepted")
	}
}

func TestLegacyReserve(t *testing.T) {
	tg := prTarget(t, LUConfig{})
	wantGood(t, run(tg, nexusA, 0, cdb(opReserve6, 6), nil, 0))
	wantGood(t, run(tg, nexusA, 0, cdb(opReserve6, 6), nil, 0))
	// Another nexus: commands conflict except INQUIRY, REPORT LUNS, REQUEST
	// SENSE and RELEASE; MODE SENSE and PR commands conflict too.
	wantConflict(t, run(tg, nexusB, 0, cdb(opReserve10, 10), nil, 0))
	wantConflict(t, run(tg, nexusB, 0, rw10(opRead10, 0, 1), nil, 512))
	wantConflict(t, run(tg, nexusB, 0, modeSense6(false, 0, pageCaching, 0, 255), nil, 255))
	wantConflict(t, run(tg, nexusB, 0, cdb(opTestUnitReady, 6), nil, 0))
	wantConflict(t, run(tg, nexusB, 0, prinCDB(prinReadKeys, 64), nil, 64))
	wantConflict(t, run(tg, nexusB, 0, proutCDB(proutRegisterIgnore, 0, 0), proutParams(0, 1, 0), 0))
	wantGood(t, run(tg, nexusB, 0, inquiry(false, 0, 36), nil, 36))
	wantGood(t, run(tg, nexusB, 0, cdb(opRelease6, 6), nil, 0))
	wantGood(t, run(tg, nexusA, 0, rw10(opWrite10, 0, 1), make([]byte, 512), 0))
	// LUN reset releases it (persistent reservations would survive).
	tg.Reset(LUNReset, 0, nexusB)
	run(tg, nexusA, 0, cdb(opTestUnitReady, 6), nil, 0)
	run(tg, nexusB, 0, cdb(opTestUnitReady, 6), nil, 0) // the reset's unit attention, on every nexus
	wantGood(t, run(tg, nexusB, 0, rw10(opRead10, 0, 1), nil, 512))
	// I_T nexus loss releases it.
	wantGood(t, run(tg, nexusA, 0, cdb(opReserve10, 10), nil, 0))
	wantConflict(t, run(tg, nexusB, 0, rw10(opRead10, 0, 1), nil, 512))
	tg.NexusLoss(nexusA)
	wantGood(t, run(tg, nexusB, 0, rw10(opRead10, 0, 1), nil, 512))
	// Target reset releases it.
	wantGood(t, run(tg, nexusB, 0, cdb(opReserve6, 6), nil, 0))
	tg.Reset(TargetWarmReset, 0, nexusC)
	run(tg, nexusA, 0, cdb(opTestUnitReady, 6), nil, 0)
	wantGood(t, run(tg, nexusA, 0, rw10(opRead10, 0, 1), nil, 512))
	// Persistent reservations survive a LUN reset.
	register(t, tg, nexusA, 0xA)
	wantGood(t, run(tg, nexusA, 0, proutCDB(proutReserve, prExclusiveAccess, 0), proutParams(0xA, 0, 0), 0))
	tg.Reset(LUNReset, 0, nexusA)
	run(tg, nexusA, 0, cdb(opTestUnitReady, 6), nil, 0) // consume the reset's unit attention
	if _, _, ok := readReservation(t, tg, nexusA); !ok {
		t.Fatal("LUN reset cleared a persistent reservation")
	}
	run(tg, nexusB, 0, cdb(opTestUnitReady, 6), nil, 0)
	wantConflict(t, run(tg, nexusB, 0, rw10(opRead10, 0, 1), nil, 512))
	// RESERVE/RELEASE conflict with registrations.
	wantConflict(t, run(tg, nexusB, 0, cdb(opReserve6, 6), nil, 0))
	wantConflict(t, run(tg, nexusB, 0, cdb(opRelease6, 6), nil, 0))
	// Bad CDB fields.
	wantSense(t, run(tg, nexusA, 0, []byte{opReserve10, 0x10, 0, 0, 0, 0, 0, 0, 0, 0}, nil, 0), KeyIllegalRequest, ASCInvalidFieldInCDB)
}
