// Package initiator is a Go iSCSI initiator (RFC 7143) for load generation and tests.
//
// It implements the initiator side of: login and text negotiation over one connection (§6, §12, §13, through
// package login), the full feature phase for SCSI commands with immediate data, unsolicited Data-Out and R2T
// driven Data-Out (§4.2, §11.3, §11.7, §11.8), Data-In placement at BufferOffset (§11.7), CmdSN/ExpStatSN/MaxCmdSN
// numbering and flow control (§4.2.2), NOP-Out/NOP-In pings in both directions (§11.18, §11.19), task management
// (§11.5, §11.6), Logout (§11.14, §11.15), asynchronous messages that request a logout (§11.9), Reject handling
// (§11.17) and SendTargets discovery (Appendix C). ErrorRecoveryLevel is 0: any protocol error ends the session.
//
// A Session may be used by many goroutines at once; each outstanding command is one task, so the number of
// goroutines calling ReadAt/WriteAt is the queue depth. One receive goroutine demultiplexes responses by
// Initiator Task Tag and places Data-In payload straight into the caller's buffer; outgoing PDUs queued while a
// write is in progress are gathered into the next vectored write. Steady-state I/O allocates nothing: task
// contexts and Data-Out headers are pooled and payload is never copied.
//
// RawConn is an escape hatch for negative tests: a logged-in connection on which arbitrary bytes and crafted
// PDUs can be sent and raw PDUs read back.
package initiator
