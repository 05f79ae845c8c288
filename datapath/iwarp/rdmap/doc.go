// Package rdmap holds the RDMA Protocol wire format (RFC 5040 §4): the RDMAP control field carried in DDP's
// RsvdULP octet (§4.2), opcodes (§4.3), the RDMA Read Request header (§4.4), the Terminate header (§4.8) and
// the Terminate layer/type/code values (§7). Message semantics and ordering (§5, §6) live in datapath/iwarp.
package rdmap
