package initiator

import (
	"errors"
	"fmt"

	"github.com/xtgt/xtgt/iscsi/scsi"
)

// Sentinel errors for protocol outcomes.
var (
	// ErrSessionClosed: the session ended (Close, Logout, connection failure) before the request completed.
	ErrSessionClosed = errors.New("initiator: session closed")
	// ErrRejected: the target answered the request with a Reject PDU.
	ErrRejected = errors.New("initiator: request rejected by target")
	// ErrProtocol: the target violated the protocol; the session is dropped.
	ErrProtocol = errors.New("initiator: target protocol error")
	// ErrCheckCondition matches a StatusError whose SCSI status is not GOOD.
	ErrCheckCondition = errors.New("initiator: SCSI command failed")
	// ErrServiceResponse: the SCSI Response reported a target failure (Response != Command Completed).
	ErrServiceResponse = errors.New("initiator: target failure")
	// ErrTMF: a task management request was answered with a response other than Function Complete.
	ErrTMF = errors.New("initiator: task management function failed")
)

// StatusError is a SCSI command that completed with a status other than GOOD.
type StatusError struct {
	Status byte
	Sense  scsi.Sense // valid when HasSense
	// HasSense reports whether the target returned sense data.
	HasSense bool
}

func (e *StatusError) Error() string {
	if e.HasSense {
		return fmt.Sprintf("initiator: SCSI status 0x%02x, sense key 0x%x ASC/ASCQ 0x%04x", e.Status, e.Sense.Key,
			uint16(e.Sense.ASC))
	}
	return fmt.Sprintf("initiator: SCSI status 0x%02x", e.Status)
}

// Is makes every StatusError match ErrCheckCondition.
func (e *StatusError) Is(target error) bool { return target == ErrCheckCondition }

// RejectError is a request the target answered with a Reject PDU.
type RejectError struct{ Reason byte }

func (e *RejectError) Error() string {
	return fmt.Sprintf("initiator: rejected by target, reason 0x%02x", e.Reason)
}

// Is makes every RejectError match ErrRejected.
func (e *RejectError) Is(target error) bool { return target == ErrRejected }

// TMFError is a task management response other than Function Complete.
type TMFError struct{ Response byte }

func (e *TMFError) Error() string {
	return fmt.Sprintf("initiator: task management response %d", e.Response)
}

// Is makes every TMFError match ErrTMF.
func (e *TMFError) Is(target error) bool { return target == ErrTMF }
