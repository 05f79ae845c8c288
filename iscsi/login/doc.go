// Package login implements the iSCSI login phase as pure, I/O-free state
// machines for both ends of a connection.
//
// It covers RFC 7143 §6 (text key=value encoding and negotiation, login
// stages and transitions), §12.1.3 (CHAP with MD5, one-way and mutual;
// AuthMethod None), §13 (every login/operational key with its result
// function and range, including the obsoleted RFC 3720 marker keys),
// RFC 7144 §2.1 (iSCSIProtocolLevel) and RFC 7145 §6 (iSER keys).
//
// The caller owns PDU framing: it decodes a Login Request BHS into a
// Request, calls TargetNegotiator.Step with the data segment text and encodes
// the returned Response. InitiatorNegotiator is the mirror image for the
// initiator library and test tools.
package login
