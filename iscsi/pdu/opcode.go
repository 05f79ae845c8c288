package pdu

import "strconv"

// Opcode is the 6-bit operation code of a PDU (RFC 7143 §11.2.1.2).
type Opcode uint8

// Initiator opcodes.
const (
	OpNOPOut      Opcode = 0x00
	OpSCSICommand Opcode = 0x01
	OpTaskMgmtReq Opcode = 0x02
	OpLoginReq    Opcode = 0x03
	OpTextReq     Opcode = 0x04
	OpDataOut     Opcode = 0x05
	OpLogoutReq   Opcode = 0x06
	OpSNACKReq    Opcode = 0x10
)

// Target opcodes.
const (
	OpNOPIn        Opcode = 0x20
	OpSCSIResponse Opcode = 0x21
	OpTaskMgmtResp Opcode = 0x22
	OpLoginResp    Opcode = 0x23
	OpTextResp     Opcode = 0x24
	OpDataIn       Opcode = 0x25
	OpLogoutResp   Opcode = 0x26
	OpR2T          Opcode = 0x31
	OpAsyncMsg     Opcode = 0x32
	OpReject       Opcode = 0x3f
)

var opNames = map[Opcode]string{
	OpNOPOut: "NOP-Out", OpSCSICommand: "SCSI-Command", OpTaskMgmtReq: "TMF-Request", OpLoginReq: "Login-Request",
	OpTextReq: "Text-Request", OpDataOut: "Data-Out", OpLogoutReq: "Logout-Request", OpSNACKReq: "SNACK",
	OpNOPIn: "NOP-In", OpSCSIResponse: "SCSI-Response", OpTaskMgmtResp: "TMF-Response", OpLoginResp: "Login-Response",
	OpTextResp: "Text-Response", OpDataIn: "Data-In", OpLogoutResp: "Logout-Response", OpR2T: "R2T",
	OpAsyncMsg: "Async-Message", OpReject: "Reject",
}

func (o Opcode) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	return "Opcode(0x" + strconv.FormatUint(uint64(o), 16) + ")"
}

// IsInitiator reports whether o is an opcode an initiator may send.
func (o Opcode) IsInitiator() bool {
	switch o {
	case OpNOPOut, OpSCSICommand, OpTaskMgmtReq, OpLoginReq, OpTextReq, OpDataOut, OpLogoutReq, OpSNACKReq:
		return true
	}
	return false
}

// Reject reasons (RFC 7143 §11.17.1).
const (
	RejectDataDigest       = 0x02
	RejectSNACK            = 0x03
	RejectProtocolError    = 0x04
	RejectCmdNotSupported  = 0x05
	RejectImmCmdReject     = 0x06
	RejectTaskInProgress   = 0x07
	RejectInvalidDataAck   = 0x08
	RejectInvalidPDUField  = 0x09
	RejectLongOpReject     = 0x0a
	RejectWaitingForLogout = 0x0c
)

// Task management functions (RFC 7143 §11.5.1).
const (
	TMFAbortTask       = 1
	TMFAbortTaskSet    = 2
	TMFClearACA        = 3
	TMFClearTaskSet    = 4
	TMFLUNReset        = 5
	TMFTargetWarmReset = 6
	TMFTargetColdReset = 7
	TMFTaskReassign    = 8
	TMFQueryTask       = 9
	TMFQueryTaskSet    = 10
	TMFIUNitReset      = 11
	TMFQueryAsyncEvent = 12
)

// Task management responses (RFC 7143 §11.6.1).
const (
	TMFRespComplete      = 0
	TMFRespNoTask        = 1
	TMFRespNoLUN         = 2
	TMFRespTaskAllegiant = 3
	TMFRespNoReassign    = 4
	TMFRespNotSupported  = 5
	TMFRespAuthFailed    = 6
	TMFRespSucceeded     = 7 // QUERY functions: function succeeded
	TMFRespRejected      = 255
)

// Logout reasons and responses (RFC 7143 §11.14.1, §11.15.1).
const (
	LogoutCloseSession    = 0
	LogoutCloseConnection = 1
	LogoutRemoveForRecov  = 2

	LogoutRespSuccess         = 0
	LogoutRespCIDNotFound     = 1
	LogoutRespRecoveryNotSupp = 2
	LogoutRespCleanupFailed   = 3
)

// Async events (RFC 7143 §11.9.1).
const (
	AsyncSCSIEvent       = 0
	AsyncLogoutRequest   = 1
	AsyncDropConnection  = 2
	AsyncDropAllConns    = 3
	AsyncNegotiateParams = 4
	AsyncVendor          = 255
)

// ReservedTag is the all-ones Initiator/Target Task Tag value.
const ReservedTag = 0xffffffff
