// Package scsi emulates a SCSI target device made of block logical units.
//
// It implements the device-server side of SAM-5 (task attributes, unit
// attentions, logical unit and target resets), SPC-4 (INQUIRY with VPD pages
// 00h/80h/83h/86h, REPORT LUNS, TEST UNIT READY, REQUEST SENSE, MODE SENSE and
// MODE SELECT with the caching, control and informational-exceptions pages,
// REPORT SUPPORTED OPERATION CODES, fixed and descriptor sense data, §4.5) and
// SBC-3 (READ/WRITE 6/10/12/16, VERIFY, WRITE AND VERIFY, PRE-FETCH,
// SYNCHRONIZE CACHE, READ CAPACITY 10/16, START STOP UNIT, PREVENT ALLOW MEDIUM
// REMOVAL, VPD pages B0h/B1h/B2h).
//
// The package knows nothing of the transport: a fabric (iSCSI, iSER) decodes
// its PDUs, gathers write data into Command.DataOut and calls Target.Execute.
// Commands are dispatched through an opcode table (opcodes.go); each command
// group lives in its own file (spc_*.go, sbc_*.go, mode.go). Backing stores are
// reached only through the Backend interface, implemented by package backstore.
package scsi
