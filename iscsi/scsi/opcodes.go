package scsi

// Operation codes handled (or deliberately rejected) by the device server.
const (
	opTestUnitReady      = 0x00
	opRequestSense       = 0x03
	opReserve6           = 0x16
	opRelease6           = 0x17
	opRead6              = 0x08
	opWrite6             = 0x0A
	opInquiry            = 0x12
	opModeSelect6        = 0x15
	opModeSense6         = 0x1A
	opStartStopUnit      = 0x1B
	opPreventAllow       = 0x1E
	opReadCapacity10     = 0x25
	opWriteSame10        = 0x41
	opUnmap              = 0x42
	opSanitize           = 0x48
	opRead10             = 0x28
	opWrite10            = 0x2A
	opWriteVerify10      = 0x2E
	opVerify10           = 0x2F
	opReadDefectData10   = 0x37
	opPreFetch10         = 0x34
	opSyncCache10        = 0x35
	opExtendedCopy       = 0x83
	opReceiveCopyResults = 0x84
	opModeSelect10       = 0x55
	opReserve10          = 0x56
	opRelease10          = 0x57
	opPRIn               = 0x5E
	opPROut              = 0x5F
	opModeSense10        = 0x5A
	opRead16             = 0x88
	opWrite16            = 0x8A
	opWriteVerify16      = 0x8E
	opVerify16           = 0x8F
	opPreFetch16         = 0x90
	opSyncCache16        = 0x91
	opCompareAndWrite    = 0x89
	opOrWrite16          = 0x8B
	opWriteSame16        = 0x93
	opWriteAtomic16      = 0x9C
	opServiceActionIn16  = 0x9E
	opReportLUNs         = 0xA0
	opMaintenanceIn      = 0xA3
	opMaintenanceOut     = 0xA4
	opRead12             = 0xA8
	opWrite12            = 0xAA
	opWriteVerify12      = 0xAE
	opVerify12           = 0xAF
	opReadDefectData12   = 0xB7

	saReadCapacity16 = 0x10
	saGetLBAStatus   = 0x12
	saReportOpcodes  = 0x0C
	saReportTPG      = 0x0A // MAINTENANCE IN
	saSetTPG         = 0x0A // MAINTENANCE OUT
)

// Opcode flags.
const (
	fAnyLUN  = 1 << iota // runs without a logical unit (l == nil)
	fNoUA                // does not report pending unit attentions
	fSAField             // an unknown service action is an invalid CDB field, not an invalid opcode
	fMedium              // accesses the medium: NOT READY, MEDIUM NOT PRESENT once a removable medium is ejected
)

type handler func(t *Target, l *lu, c *Command)

// serviceAction describes one service action of a service-action opcode.
type serviceAction struct {
	sa    uint16
	name  string
	run   handler
	usage []byte // CDB usage data; usage[1] carries the service action
}

// opInfo describes one operation code. An entry with run == nil is
// unsupported and fails with INVALID COMMAND OPERATION CODE. To add a
// command, write its handler in the file of its command group and register
// it in init below; REPORT SUPPORTED OPERATION CODES picks it up.
type opInfo struct {
	name   string
	run    handler
	cdbLen uint8
	flags  uint8
	usage  []byte          // CDB usage data (SPC-4 §6.35.3)
	sas    []serviceAction // non-nil for service-action opcodes
}

var opTable [256]opInfo

func reg(op byte, name string, run handler, flags uint8, usage ...byte) {
	opTable[op] = opInfo{name: name, run: run, cdbLen: uint8(len(usage)), flags: flags, usage: usage}
}

func regSA(op byte, sas ...serviceAction) {
	regSAFlags(op, 0, sas...)
}

func regSAFlags(op byte, flags uint8, sas ...serviceAction) {
	n := len(sas[0].usage)
	opTable[op] = opInfo{name: "service action", run: runServiceAction, cdbLen: uint8(n), flags: flags, sas: sas}
}

// runServiceAction dispatches on the SERVICE ACTION field (byte 1, bits 4-0).
// An unsupported service action is reported as an invalid operation code so
// initiators (and conformance suites) treat the command as unimplemented.
func runServiceAction(t *Target, l *lu, c *Command) {
	op := &opTable[c.CDB[0]]
	sa := uint16(c.CDB[1] & 0x1F)
	for i := range op.sas {
		if op.sas[i].sa == sa {
			op.sas[i].run(t, l, c)
			return
		}
	}
	if op.flags&fSAField != 0 {
		c.invalidCDB(l.desc(), 1, 4)
		return
	}
	c.check(l.desc(), KeyIllegalRequest, ASCInvalidOpcode)
}

const ctl = 0x04 // CONTROL byte usage: NACA

func init() {
	reg(opTestUnitReady, "TEST UNIT READY", runTestUnitReady, 0, 0x00, 0, 0, 0, 0, ctl)
	reg(opRequestSense, "REQUEST SENSE", runRequestSense, fAnyLUN|fNoUA, 0x03, 0x01, 0, 0, 0xFF, ctl)
	reg(opInquiry, "INQUIRY", runInquiry, fAnyLUN|fNoUA, 0x12, 0x01, 0xFF, 0xFF, 0xFF, ctl)
	reg(opReportLUNs, "REPORT LUNS", runReportLUNs, fAnyLUN|fNoUA, 0xA0, 0, 0xFF, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, ctl)
	reg(opModeSense6, "MODE SENSE(6)", runModeSense, 0, 0x1A, 0x08, 0xFF, 0xFF, 0xFF, ctl)
	reg(opModeSense10, "MODE SENSE(10)", runModeSense, 0, 0x5A, 0x18, 0xFF, 0xFF, 0, 0, 0, 0xFF, 0xFF, ctl)
	reg(opModeSelect6, "MODE SELECT(6)", runModeSelect, 0, 0x15, 0x11, 0, 0, 0xFF, ctl)
	reg(opModeSelect10, "MODE SELECT(10)", runModeSelect, 0, 0x55, 0x11, 0, 0, 0, 0, 0, 0xFF, 0xFF, ctl)
	reg(opStartStopUnit, "START STOP UNIT", runStartStopUnit, 0, 0x1B, 0x01, 0, 0x0F, 0xF7, ctl)
	reg(opPreventAllow, "PREVENT ALLOW MEDIUM REMOVAL", runPreventAllow, 0, 0x1E, 0, 0, 0, 0x03, ctl)
	reg(opReadCapacity10, "READ CAPACITY(10)", runReadCapacity10, 0, 0x25, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0x01, ctl)

	reg(opRead6, "READ(6)", runRead, 0, 0x08, 0x1F, 0xFF, 0xFF, 0xFF, ctl)
	reg(opRead10, "READ(10)", runRead, 0, 0x28, 0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, ctl)
	reg(opRead12, "READ(12)", runRead, 0, 0xA8, 0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, ctl)
	reg(opRead16, "READ(16)", runRead, 0, 0x88, 0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, ctl)
	reg(opWrite6, "WRITE(6)", runWrite, 0, 0x0A, 0x1F, 0xFF, 0xFF, 0xFF, ctl)
	reg(opWrite10, "WRITE(10)", runWrite, 0, 0x2A, 0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, ctl)
	reg(opWrite12, "WRITE(12)", runWrite, 0, 0xAA, 0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, ctl)
	reg(opWrite16, "WRITE(16)", runWrite, 0, 0x8A, 0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, ctl)
	reg(opWriteVerify10, "WRITE AND VERIFY(10)", runWrite, 0, 0x2E, 0xF2, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, ctl)
	reg(opWriteVerify12, "WRITE AND VERIFY(12)", runWrite, 0, 0xAE, 0xF2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, ctl)
	reg(opWriteVerify16, "WRITE AND VERIFY(16)", runWrite, 0, 0x8E, 0xF2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, ctl)
	reg(opVerify10, "VERIFY(10)", runVerify, 0, 0x2F, 0xF6, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, ctl)
	reg(opVerify12, "VERIFY(12)", runVerify, 0, 0xAF, 0xF6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, ctl)
	reg(opVerify16, "VERIFY(16)", runVerify, 0, 0x8F, 0xF6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, ctl)
	reg(opPreFetch10, "PRE-FETCH(10)", runPreFetch, 0, 0x34, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, ctl)
	reg(opPreFetch16, "PRE-FETCH(16)", runPreFetch, 0, 0x90, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, ctl)
	reg(opSyncCache10, "SYNCHRONIZE CACHE(10)", runSyncCache, 0, 0x35, 0x06, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, ctl)
	reg(opSyncCache16, "SYNCHRONIZE CACHE(16)", runSyncCache, 0, 0x91, 0x06, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, ctl)

	reg(opWriteSame10, "WRITE SAME(10)", runWriteSame, 0, 0x41, 0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, ctl)
	reg(opWriteSame16, "WRITE SAME(16)", runWriteSame, 0, 0x93, 0xF9, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, ctl)
	reg(opCompareAndWrite, "COMPARE AND WRITE", runCompareAndWrite, 0, 0x89, 0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0xFF, 0x1F, ctl)
	reg(opOrWrite16, "ORWRITE(16)", runOrWrite, 0, 0x8B, 0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, ctl)
	reg(opWriteAtomic16, "WRITE ATOMIC(16)", runWriteAtomic, 0, 0x9C, 0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, ctl)
	reg(opUnmap, "UNMAP", runUnmap, 0, 0x42, 0x01, 0, 0, 0, 0, 0x1F, 0xFF, 0xFF, ctl)

	regSA(opServiceActionIn16, serviceAction{sa: saReadCapacity16, name: "READ CAPACITY(16)", run: runReadCapacity16,
		usage: []byte{0x9E, saReadCapacity16, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, ctl}},
		serviceAction{sa: saGetLBAStatus, name: "GET LBA STATUS", run: runGetLBAStatus,
			usage: []byte{0x9E, saGetLBAStatus, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, ctl}})
	reg(opReserve6, "RESERVE(6)", runReserve, 0, 0x16, 0x01, 0, 0, 0, ctl)
	reg(opRelease6, "RELEASE(6)", runRelease, 0, 0x17, 0x01, 0, 0, 0, ctl)
	reg(opReserve10, "RESERVE(10)", runReserve, 0, 0x56, 0x12, 0xFF, 0, 0, 0, 0, 0xFF, 0xFF, ctl)
	reg(opRelease10, "RELEASE(10)", runRelease, 0, 0x57, 0x12, 0xFF, 0, 0, 0, 0, 0xFF, 0xFF, ctl)
	reg(opReadDefectData10, "READ DEFECT DATA(10)", runReadDefectData, 0, 0x37, 0, 0x1F, 0, 0, 0, 0, 0xFF, 0xFF, ctl)
	reg(opReadDefectData12, "READ DEFECT DATA(12)", runReadDefectData, 0, 0xB7, 0x1F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, ctl)
	prin := func(sa byte, name string) serviceAction {
		return serviceAction{sa: uint16(sa), name: name, run: runPRIn, usage: []byte{0x5E, sa, 0, 0, 0, 0, 0, 0xFF, 0xFF, ctl}}
	}
	regSAFlags(opPRIn, fSAField, prin(prinReadKeys, "PERSISTENT RESERVE IN/READ KEYS"),
		prin(prinReadReservation, "PERSISTENT RESERVE IN/READ RESERVATION"),
		prin(prinReportCaps, "PERSISTENT RESERVE IN/REPORT CAPABILITIES"),
		prin(prinReadFullStatus, "PERSISTENT RESERVE IN/READ FULL STATUS"))
	prout := func(sa byte, name string) serviceAction {
		return serviceAction{sa: uint16(sa), name: name, run: runPROut, usage: []byte{0x5F, sa, 0xFF, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, ctl}}
	}
	regSAFlags(opPROut, fSAField, prout(proutRegister, "PERSISTENT RESERVE OUT/REGISTER"),
		prout(proutReserve, "PERSISTENT RESERVE OUT/RESERVE"), prout(proutRelease, "PERSISTENT RESERVE OUT/RELEASE"),
		prout(proutClear, "PERSISTENT RESERVE OUT/CLEAR"), prout(proutPreempt, "PERSISTENT RESERVE OUT/PREEMPT"),
		prout(proutPreemptAbort, "PERSISTENT RESERVE OUT/PREEMPT AND ABORT"),
		prout(proutRegisterIgnore, "PERSISTENT RESERVE OUT/REGISTER AND IGNORE EXISTING KEY"),
		prout(proutRegisterMove, "PERSISTENT RESERVE OUT/REGISTER AND MOVE"))
	regSAFlags(opExtendedCopy, fSAField, serviceAction{sa: 0x00, name: "EXTENDED COPY(LID1)", run: runExtendedCopy,
		usage: []byte{0x83, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, ctl}})
	rcr := func(sa byte, name string) serviceAction {
		return serviceAction{sa: uint16(sa), name: name, run: runReceiveCopyResults,
			usage: []byte{0x84, sa, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, ctl}}
	}
	regSAFlags(opReceiveCopyResults, fSAField, rcr(rcrCopyStatus, "RECEIVE COPY RESULTS/COPY STATUS"),
		rcr(rcrOpParams, "RECEIVE COPY RESULTS/OPERATING PARAMETERS"))
	san := func(sa byte, name string) serviceAction {
		return serviceAction{sa: uint16(sa), name: name, run: runSanitize,
			usage: []byte{0x48, 0x80 | 0x40 | 0x20 | sa, 0, 0, 0, 0, 0, 0xFF, 0xFF, ctl}}
	}
	regSAFlags(opSanitize, fSAField, san(sanOverwrite, "SANITIZE/OVERWRITE"), san(sanBlockErase, "SANITIZE/BLOCK ERASE"),
		san(sanCrypto, "SANITIZE/CRYPTO ERASE"), san(sanExitFail, "SANITIZE/EXIT FAILURE MODE"))
	regSA(opMaintenanceIn, serviceAction{sa: saReportTPG, name: "REPORT TARGET PORT GROUPS", run: runReportTPG,
		usage: []byte{0xA3, 0xE0 | saReportTPG, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, ctl}},
		serviceAction{sa: saReportOpcodes, name: "REPORT SUPPORTED OPERATION CODES", run: runReportOpcodes,
			usage: []byte{0xA3, saReportOpcodes, 0x87, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, ctl}})
	regSA(opMaintenanceOut, serviceAction{sa: saSetTPG, name: "SET TARGET PORT GROUPS", run: runSetTPG,
		usage: []byte{0xA4, saSetTPG, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, ctl}})
	for _, op := range []byte{opTestUnitReady, opReadCapacity10, opServiceActionIn16, opRead6, opRead10, opRead12,
		opRead16, opWrite6, opWrite10, opWrite12, opWrite16, opWriteVerify10, opWriteVerify12, opWriteVerify16,
		opVerify10, opVerify12, opVerify16, opPreFetch10, opPreFetch16, opSyncCache10, opSyncCache16,
		opWriteSame10, opWriteSame16, opCompareAndWrite, opOrWrite16, opWriteAtomic16, opUnmap, opSanitize,
		opExtendedCopy} {
		opTable[op].flags |= fMedium
	}
}
