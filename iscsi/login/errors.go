package login

import (
	"errors"
	"fmt"
)

// Sentinel errors. Lookup returns ErrTargetNotFound, ErrForbidden or
// ErrTargetRemoved to select the login status; a failed login's error
// matches ErrLoginFailed.
var (
	ErrTargetNotFound = errors.New("login: target not found")
	ErrForbidden      = errors.New("login: initiator not authorized")
	ErrTargetRemoved  = errors.New("login: target removed")
	ErrLoginFailed    = errors.New("login: failed")
	ErrLoginComplete  = errors.New("login: already complete")
	ErrAuth           = errors.New("login: authentication failed")
)

// StatusError is a login failure with its Login Response status
// (class<<8 | detail).
type StatusError struct {
	Status uint16
	Reason string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("login: status 0x%04x: %s", e.Status, e.Reason)
}

// Is makes every StatusError match ErrLoginFailed, and authentication
// failures match ErrAuth.
func (e *StatusError) Is(target error) bool {
	return target == ErrLoginFailed || (target == ErrAuth && e.Status == StatusAuthFailed)
}
