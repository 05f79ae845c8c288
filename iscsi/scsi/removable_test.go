package scsi

import (
	"encoding/binary"
	"testing"
)

func preventAllow(prevent byte) []byte {
	b := cdb(opPreventAllow, 6)
	b[4] = prevent
	return b
}

// ssu builds START STOP UNIT with the given POWER CONDITION, LOEJ and START.
func ssu(pc byte, loej, start bool) []byte {
	b := cdb(opStartStopUnit, 6)
	b[4] = pc << 4
	if loej {
		b[4] |= 0x02
	}
	if start {
		b[4] |= 0x01
	}
	return b
}

func eject() []byte { return ssu(0, true, false) }
func load() []byte  { return ssu(0, true, true) }

// clearUAs consumes pending unit attentions of n with TEST UNIT READY.
func clearUAs(t *testing.T, tg *Target, n Nexus) {
	t.Helper()
	for i := 0; i < maxUAs+1; i++ {
		c := run(tg, n, 0, cdb(opTestUnitReady, 6), nil, 0)
		if c.Status == Good {
			return
		}
		if s, _ := ParseSense(c.Sense); s.Key != KeyUnitAttention {
			t.Fatalf("TUR: %+v", s)
		}
	}
	t.Fatal("unit attentions do not clear")
}

func TestRemovableInquiryRMB(t *testing.T) {
	for _, rem := range []bool{false, true} {
		tg, _ := newTarget(t, LUConfig{Removable: rem})
		c := run(tg, nexusA, 0, inquiry(false, 0, 96), nil, 96)
		wantGood(t, c)
		if got := c.DataIn[1]&0x80 != 0; got != rem {
			t.Errorf("removable %v: RMB %v", rem, got)
		}
	}
}

func TestRemovableEjectLoad(t *testing.T) {
	tg, _ := newTarget(t, LUConfig{Removable: true})
	wantGood(t, run(tg, nexusA, 0, eject(), nil, 0))
	// Media access fails; commands that need no medium still work.
	for _, b := range [][]byte{cdb(opTestUnitReady, 6), rw10(opRead10, 0, 1), rw10(opWrite10, 0, 1),
		cdb(opReadCapacity10, 10)} {
		var out []byte
		if b[0] == opWrite10 {
			out = make([]byte, 512)
		}
		wantSense(t, run(tg, nexusA, 0, b, out, 512), KeyNotReady, ASCMediumNotPresent)
	}
	wantGood(t, run(tg, nexusA, 0, inquiry(false, 0, 96), nil, 96))
	wantGood(t, run(tg, nexusA, 0, preventAllow(0), nil, 0))
	wantGood(t, run(tg, nexusA, 0, eject(), nil, 0)) // ejecting again is harmless
	// A power condition other than 0 ignores LOEJ: the medium stays out.
	wantGood(t, run(tg, nexusA, 0, ssu(1, true, true), nil, 0))
	wantSense(t, run(tg, nexusA, 0, cdb(opTestUnitReady, 6), nil, 0), KeyNotReady, ASCMediumNotPresent)
	wantGood(t, run(tg, nexusA, 0, load(), nil, 0))
	wantGood(t, run(tg, nexusA, 0, cdb(opTestUnitReady, 6), nil, 0))
	wantGood(t, run(tg, nexusA, 0, rw10(opRead10, 0, 1), nil, 512))
	// START=0 without LOEJ stops the unit but keeps the medium.
	wantGood(t, run(tg, nexusA, 0, ssu(0, false, false), nil, 0))
	wantGood(t, run(tg, nexusA, 0, cdb(opTestUnitReady, 6), nil, 0))
}

func TestFixedIgnoresLOEJ(t *testing.T) {
	tg, _ := newTarget(t, LUConfig{})
	wantGood(t, run(tg, nexusA, 0, preventAllow(1), nil, 0))
	wantGood(t, run(tg, nexusA, 0, eject(), nil, 0))
	wantGood(t, run(tg, nexusA, 0, cdb(opTestUnitReady, 6), nil, 0))
}

func TestPreventAllow(t *testing.T) {
	t.Run("invalid", func(t *testing.T) {
		tg, _ := newTarget(t, LUConfig{Removable: true})
		wantSense(t, run(tg, nexusA, 0, preventAllow(2), nil, 0), KeyIllegalRequest, ASCInvalidFieldInCDB)
	})
	t.Run("two nexuses", func(t *testing.T) {
		tg, _ := newTarget(t, LUConfig{Removable: true})
		clearUAs(t, tg, nexusB)
		wantGood(t, run(tg, nexusA, 0, preventAllow(1), nil, 0))
		wantGood(t, run(tg, nexusB, 0, preventAllow(1), nil, 0))
		for _, n := range []Nexus{nexusA, nexusB} {
			wantSense(t, run(tg, n, 0, eject(), nil, 0), KeyIllegalRequest, ASCMediumRemovalPrevented)
			wantGood(t, run(tg, n, 0, cdb(opTestUnitReady, 6), nil, 0))
		}
		// A nexus only clears its own prevention.
		wantGood(t, run(tg, nexusA, 0, preventAllow(0), nil, 0))
		wantGood(t, run(tg, nexusA, 0, preventAllow(0), nil, 0))
		wantSense(t, run(tg, nexusA, 0, eject(), nil, 0), KeyIllegalRequest, ASCMediumRemovalPrevented)
		wantGood(t, run(tg, nexusB, 0, preventAllow(0), nil, 0))
		wantGood(t, run(tg, nexusA, 0, eject(), nil, 0))
		// Loading is prevented too.
		wantGood(t, run(tg, nexusB, 0, preventAllow(1), nil, 0))
		wantSense(t, run(tg, nexusA, 0, load(), nil, 0), KeyIllegalRequest, ASCMediumRemovalPrevented)
		wantGood(t, run(tg, nexusB, 0, preventAllow(0), nil, 0))
		wantGood(t, run(tg, nexusA, 0, load(), nil, 0))
	})
	resets := []struct {
		name  string
		reset func(tg *Target)
	}{
		{"nexus loss", func(tg *Target) { tg.NexusLoss(nexusA) }},
		{"lun reset", func(tg *Target) { tg.Reset(LUNReset, 0, nexusB) }},
		{"warm reset", func(tg *Target) { tg.Reset(TargetWarmReset, 0, nexusB) }},
		{"cold reset", func(tg *Target) { tg.Reset(TargetColdReset, 0, nexusB) }},
	}
	for _, r := range resets {
		t.Run(r.name, func(t *testing.T) {
			tg, _ := newTarget(t, LUConfig{Removable: true})
			wantGood(t, run(tg, nexusA, 0, preventAllow(1), nil, 0))
			wantSense(t, run(tg, nexusA, 0, eject(), nil, 0), KeyIllegalRequest, ASCMediumRemovalPrevented)
			r.reset(tg)
			clearUAs(t, tg, nexusA)
			wantGood(t, run(tg, nexusA, 0, eject(), nil, 0))
			wantSense(t, run(tg, nexusA, 0, cdb(opTestUnitReady, 6), nil, 0), KeyNotReady, ASCMediumNotPresent)
		})
	}
	t.Run("nexus loss of another", func(t *testing.T) {
		tg, _ := newTarget(t, LUConfig{Removable: true})
		clearUAs(t, tg, nexusB)
		wantGood(t, run(tg, nexusA, 0, preventAllow(1), nil, 0))
		tg.NexusLoss(nexusB)
		wantSense(t, run(tg, nexusA, 0, eject(), nil, 0), KeyIllegalRequest, ASCMediumRemovalPrevented)
	})
}

func TestPhysicalBlockExponent(t *testing.T) {
	if _, err := newLU(0, LUConfig{Backend: &memBackend{b: make([]byte, 4096)}, PhysicalBlockExponent: 16}); err == nil {
		t.Fatal("exponent 16 accepted")
	}
	for _, exp := range []uint8{0, 3, 15} {
		tg, _ := newTarget(t, LUConfig{PhysicalBlockExponent: exp})
		rc := cdb(opServiceActionIn16, 16)
		rc[1] = saReadCapacity16
		binary.BigEndian.PutUint32(rc[10:14], 32)
		c := run(tg, nexusA, 0, rc, nil, 32)
		wantGood(t, c)
		if got := c.DataIn[13] & 0x0F; got != exp {
			t.Errorf("exp %d: LBPPBE %d", exp, got)
		}
		if c.DataIn[14]&0x3F != 0 || c.DataIn[15] != 0 {
			t.Errorf("exp %d: LOWEST ALIGNED LBA %x%x", exp, c.DataIn[14]&0x3F, c.DataIn[15])
		}
		c = run(tg, nexusA, 0, inquiry(true, vpdBlockLimits, 64), nil, 64)
		wantGood(t, c)
		if got := binary.BigEndian.Uint16(c.DataIn[6:8]); got != 1<<exp {
			t.Errorf("exp %d: OPTIMAL TRANSFER LENGTH GRANULARITY %d", exp, got)
		}
	}
}

func TestDataOutSizeMismatch(t *testing.T) {
	tg, _ := newThinTarget(t)
	ws := func(n int) *Command {
		b := rw10(opWriteSame10, 0, 1)
		b[1] = 0x08 // UNMAP
		return run(tg, nexusA, 0, b, make([]byte, n), 0)
	}
	wantSense(t, ws(256), KeyIllegalRequest, ASCInvalidFieldInIU)
	wantSense(t, ws(1024), KeyIllegalRequest, ASCInvalidFieldInIU)
	wantGood(t, ws(512))
	caw := func(blocks byte, n int) *Command {
		b := cdb(opCompareAndWrite, 16)
		b[13] = blocks
		return run(tg, nexusA, 0, b, make([]byte, n), 0)
	}
	wantSense(t, caw(1, 4*512), KeyIllegalRequest, ASCInvalidFieldInIU)
	wantSense(t, caw(3, 4*512), KeyIllegalRequest, ASCInvalidFieldInIU)
	wantGood(t, caw(2, 4*512))
}
