package scsi

import (
	"bytes"
	"testing"
)

// FuzzExecute runs arbitrary CDBs and data against a small LU. Execute must
// not panic, status and sense must agree, and data must stay in bounds.
func FuzzExecute(f *testing.F) {
	seeds := [][]byte{
		rw10(opRead10, 1, 2), rw10(opWrite10, 1, 2), rw16(opRead16, 0, 1), rw12(opWrite12, 3, 1),
		{opRead6, 0, 0, 0, 0, 0}, {opWrite6, 0x1F, 0xFF, 0xFF, 0, 0},
		inquiry(true, 0x83, 255), inquiry(false, 0, 255), inquiry(true, 0xB0, 3),
		modeSense6(false, 0, pageAllPages, 0xFF, 255), modeSense10(true, false, 1, pageAllPages, 1024),
		modeSelect6(false, make([]byte, 16)), {opRequestSense, 1, 0, 0, 255, 0},
		{opReportLUNs, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}, {opMaintenanceIn, 0x0C, 0x80, 0, 0, 0, 0, 0, 4, 0, 0, 0},
		{opServiceActionIn16, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0},
		rw10(opVerify10, 0, 2), rw16(opSyncCache16, 0, 0), {opStartStopUnit, 0, 0, 0, 0, 0},
		unmapCDB(24, false), writeSame(opWriteSame10, 1, 4, 0x08), writeSame(opWriteSame16, 0, 8, 0x09),
		getLBAStatus(0, 64), cawCDB(2, 1), rw16(opOrWrite16, 3, 2), {opWriteAtomic16, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0},
		prinCDB(prinReadFullStatus, 512), prinCDB(prinReportCaps, 8), proutCDB(proutRegisterIgnore, 0, 0),
		proutCDB(proutReserve, prExclusiveRO, 0), proutCDB(proutPreemptAbort, prWriteExclusive, 0),
		proutCDB(proutRegisterMove, prExclusiveAccess, 60), proutCDB(proutRegister, 0, 64),
		cdb(opReserve6, 6), cdb(opRelease10, 10), xcopyCDB(76), {opReceiveCopyResults, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0},
		reportTPG(1, 255), reportTPG(0, 3), setTPG(12),
		sanitizeCDB(sanBlockErase, true, 0), sanitizeCDB(sanOverwrite, false, 8), {opReadDefectData12, 0x1F, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0},
	}
	for i, s := range seeds {
		f.Add(s, bytes.Repeat([]byte{byte(i)}, 1024), uint16(512), byte(i%3))
	}
	// Well-formed parameter lists for the parameter-list commands.
	pl := unmapList(1, 4, 9, 2)
	f.Add(unmapCDB(uint16(len(pl)), false), pl, uint16(0), byte(1))
	f.Add(proutCDB(proutRegisterIgnore, 0, 0), proutParams(0, 7, 0x04), uint16(0), byte(1))
	tid := tidFor(nexusB)
	spec := append(append(proutParams(0, 9, 0x08), 0, 0, 0, byte(len(tid))), tid...)
	f.Add(proutCDB(proutRegister, 0, uint32(len(spec))), spec, uint16(0), byte(1))
	xl := xcopyList(1, [][]byte{make([]byte, 32)}, [][]byte{seg(0, 0, 2, 0, 8)})
	xl[16] = cscdIdentification
	f.Add(xcopyCDB(uint32(len(xl))), xl, uint16(0), byte(0))
	f.Add(sanitizeCDB(sanOverwrite, false, 8), []byte{1, 0, 0, 4, 1, 2, 3, 4}, uint16(0), byte(1))
	f.Add(setTPG(12), stpgList([2]uint16{2, uint16(Standby)}, [2]uint16{1, uint16(ActiveOptimized)}), uint16(0), byte(0))
	tg := NewTarget(nil)
	if err := tg.AddLU(0, LUConfig{Backend: &memBackend{b: make([]byte, 64*512)}, MaxTransferBytes: 16 << 10}); err != nil {
		f.Fatal(err)
	}
	if err := tg.AddLU(1, LUConfig{Backend: newThin(64), MaxTransferBytes: 16 << 10}); err != nil {
		f.Fatal(err)
	}
	if err := tg.SetPortGroups([]PortGroup{{Tag: 1}, {Tag: 2, State: ActiveNonOptimized}}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, cdbBytes, out []byte, inLen uint16, lun byte) {
		c := &Command{Nexus: nexusA, LUN: uint64(lun % 3), CDB: cdbBytes, DataOut: out, DataIn: make([]byte, inLen)}
		tg.Execute(c)
		switch c.Status {
		case Good:
			if c.Sense != nil {
				t.Fatalf("GOOD with sense % x", c.Sense)
			}
		case CheckCondition:
			s, err := ParseSense(c.Sense)
			if err != nil || s.Key == KeyNoSense {
				t.Fatalf("bad sense % x: %v", c.Sense, err)
			}
			if len(c.Sense) > 0 && &c.Sense[0] != &c.SenseBuf[0] {
				t.Fatal("sense not in SenseBuf")
			}
			if c.InLen != 0 {
				t.Fatalf("InLen %d with CHECK CONDITION", c.InLen)
			}
		case ReservationConflict:
			if c.Sense != nil || c.InLen != 0 {
				t.Fatalf("RESERVATION CONFLICT with sense or data")
			}
		default:
			t.Fatalf("status %#x", c.Status)
		}
		if c.InLen < 0 || c.InLen > len(c.DataIn) || c.Needed < 0 {
			t.Fatalf("InLen %d Needed %d len %d", c.InLen, c.Needed, len(c.DataIn))
		}
	})
}
