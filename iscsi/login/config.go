package login

import "io"

// TargetInfo is what a target name resolves to.
type TargetInfo struct {
	Name, Alias string
	// CHAP, when set, makes CHAP mandatory: the initiator must authenticate
	// as CHAP.User with CHAP.Secret. Nil allows AuthMethod=None.
	CHAP *CHAPSecret
	// MutualCHAP is the target's own name and secret, used when the
	// initiator asks for mutual authentication (it sends CHAP_I/CHAP_C).
	MutualCHAP *CHAPSecret
	// RequireMutual fails logins whose initiator does not ask for mutual
	// CHAP.
	RequireMutual bool
}

// TargetConfig is the target's policy. It is read, never written, and may be
// shared by all negotiators.
type TargetConfig struct {
	// Lookup resolves the TargetName of a Normal session for InitiatorName.
	// Errors matching ErrTargetNotFound give status 0x0203, ErrForbidden
	// 0x0202, ErrTargetRemoved 0x0204; any other error 0x0300. A nil Lookup
	// finds no target.
	Lookup func(targetName, initiatorName string) (TargetInfo, error)
	// Discovery is the authentication policy of discovery sessions.
	Discovery TargetInfo
	// NoDiscovery refuses discovery sessions (status 0x0209).
	NoDiscovery bool
	// Limits is what the target offers and accepts: its
	// MaxRecvDataSegmentLength, maximum burst lengths, MaxOutstandingR2T,
	// MaxConnections and ErrorRecoveryLevel maxima, DefaultTime2Wait
	// minimum, HeaderDigest/DataDigest true if CRC32C is allowed,
	// ImmediateData/RDMAExtensions true if supported, InitialR2T,
	// DataPDUInOrder, DataSequenceInOrder true if required. Start from
	// DefaultParams; zero numerical fields take the RFC default.
	Limits         Params
	PortalGroupTag uint16
	// TargetAlias is used when TargetInfo.Alias is empty.
	TargetAlias string
	// Rand is the source of CHAP identifiers and challenges
	// (crypto/rand.Reader when nil).
	Rand io.Reader
}

// Request is one (decoded) Login Request.
type Request struct {
	CSG, NSG               Stage
	Transit, Continue      bool
	VersionMax, VersionMin uint8
	Text                   []byte
}

// Response is the Login Response to send.
type Response struct {
	CSG, NSG                  Stage
	Transit, Continue         bool
	StatusClass, StatusDetail uint8
	// Text is the data segment. It aliases a buffer of the negotiator and
	// is valid until the next call.
	Text []byte
	// Done: the login is complete; the connection enters full feature phase
	// with Params.
	Done bool
}

// Status returns StatusClass<<8 | StatusDetail.
func (r *Response) Status() uint16 { return uint16(r.StatusClass)<<8 | uint16(r.StatusDetail) }
