// Package target is the iSCSI target of RFC 7143: connections and their login phase (§6, with the negotiation
// logic in package login), sessions with CmdSN/ExpCmdSN/MaxCmdSN windowing and in-order delivery (§4.2.2),
// SCSI command execution with immediate and unsolicited data, R2T and Data-Out (§4.2.5, §11.7, §11.8),
// Data-In with status phase-collapse (§11.7.4), task management (§11.5, §4.2.3), Text/SendTargets (§11.10,
// Appendix C), NOP-In/NOP-Out keepalive (§11.18, §11.19), Logout (§11.14), Async Message (§11.9) and Reject
// (§11.17), at ErrorRecoveryLevel 0 (§7.1.5: every error that cannot be answered in-band closes the connection).
//
// Each listener belongs to a target portal group (Server.ServeGroup; Serve uses Config.PortalGroupTag): its tag is
// the TargetPortalGroupTag of the connections it accepts and the TPGT of their I_T nexus, which package scsi uses
// for ALUA (target port groups) and persistent reservations.
//
// SCSI semantics live in package scsi. A connection reaches its byte stream only through Transport (TCP over a
// net.Conn is the first implementation; iSER and the AF_XDP TCP engine plug in the same way) and moves task data
// through its DataMover (Data-In PDUs and R2T-solicited Data-Out on TCP, RDMA Write/Read on iSER), in the shape
// of LIO's iscsit_transport.
package target
