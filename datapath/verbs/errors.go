package verbs

import (
	"errors"
	"fmt"
)

var (
	ErrRejected     = errors.New("connection rejected")
	ErrQueueFull    = errors.New("work queue full")
	ErrInvalidState = errors.New("invalid QP state")
	ErrInvalidSGE   = errors.New("invalid scatter/gather element")
	ErrInvalidKey   = errors.New("invalid STag")
	ErrTooManySGE   = errors.New("too many SGEs")
	ErrClosed       = errors.New("closed")
	ErrDisconnected = errors.New("peer disconnected")
	ErrCQOverrun    = errors.New("completion queue overrun")
)

// RejectError is returned by Connect when the responder rejected the connection.
type RejectError struct {
	PrivateData []byte
}

func (e *RejectError) Error() string {
	return fmt.Sprintf("connection rejected (%d bytes private data)", len(e.PrivateData))
}

func (e *RejectError) Is(target error) bool { return target == ErrRejected }

// TermError describes a Terminate (RFC 5040 §4.8): the layer, error type and code that ended the stream.
type TermError struct {
	Layer, Type, Code uint8
	Remote            bool // received from the peer rather than sent by us
}

func (e *TermError) Error() string {
	dir := "sent"
	if e.Remote {
		dir = "received"
	}
	layer := [...]string{"rdmap", "ddp", "llp"}
	l := "layer?"
	if int(e.Layer) < len(layer) {
		l = layer[e.Layer]
	}
	return fmt.Sprintf("terminate %s: %s type %#x code %#x", dir, l, e.Type, e.Code)
}
