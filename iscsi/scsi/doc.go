// Package scsi emulates a SCSI target device made of block logical units.
//
// It implements the device-server side of SAM-5 (task attributes, unit
// attentions, logical unit and target resets), SPC-4 (INQUIRY with VPD pages
// 00h/80h/83h/86h/8Fh, REPORT LUNS, TEST UNIT READY, REQUEST SENSE, MODE SENSE
// and MODE SELECT with the caching, control and informational-exceptions
// pages, REPORT SUPPORTED OPERATION CODES, fixed and descriptor sense data,
// §4.5; asymmetric logical unit access, §5.16, with REPORT and SET TARGET
// PORT GROUPS, the five access states and the commands each one admits
// (alua.go, spc_tpg.go); persistent reservations, §5.9, with PERSISTENT
// RESERVE IN/OUT for all six reservation types, ALL_TG_PT, SPEC_I_PT, REGISTER AND MOVE and APTPL
// persisted to a per-LU state file; SPC-2 RESERVE/RELEASE; EXTENDED
// COPY(LID1) and RECEIVE COPY RESULTS, §6.4, §6.26) and SBC-3/SBC-4
// (READ/WRITE 6/10/12/16, VERIFY, WRITE AND VERIFY, PRE-FETCH, SYNCHRONIZE
// CACHE, READ CAPACITY 10/16, START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL,
// logical block provisioning with UNMAP, WRITE SAME 10/16 and GET LBA STATUS,
// COMPARE AND WRITE, ORWRITE(16), WRITE ATOMIC(16), SANITIZE, READ DEFECT
// DATA 10/12, VPD pages B0h/B1h/B2h). A logical unit may be configured
// removable (LUConfig.Removable: INQUIRY RMB, per-I_T-nexus medium removal
// prevention, SBC-3 §5.15, and START STOP UNIT LOEJ eject/load, §5.25, after
// which media-access commands report MEDIUM NOT PRESENT) and may report
// several logical blocks per physical block (LUConfig.PhysicalBlockExponent,
// READ CAPACITY(16) §5.16.2, VPD B0h granularities).
//
// The package knows nothing of the transport: a fabric (iSCSI, iSER) decodes
// its PDUs, gathers write data into Command.DataOut and calls Target.Execute.
// Commands are dispatched through an opcode table (opcodes.go); each command
// group lives in its own file (spc_*.go, sbc_*.go, mode.go, pr*.go). Backing
// stores are reached only through the Backend interface (and the optional
// Mapper and Provisioner), implemented by package backstore.
//
// Concurrency: commands on one logical unit run concurrently. A striped
// range lock (rangelock.go) is taken shared by READ/WRITE and exclusively by
// COMPARE AND WRITE, ORWRITE, WRITE ATOMIC and SANITIZE, so those are atomic
// with respect to every overlapping command; it allocates nothing.
// Reservation checks cost one atomic load per command while no reservation
// is held.
package scsi
