// Package verbs is the RNIC contract of xtgt: the subset of RDMA verbs semantics (as users know them from
// rdma-core's libibverbs and librdmacm) that the iSER datamover needs, independent of the provider.
//
// A Device hands out protection domains (PD), completion queues (CQ) and completion channels; a PD registers
// memory regions (MR) whose STags (iWARP's name for lkey/rkey, RFC 5040 §2.2, RFC 5042 §5) carry access rights
// over a base/length in either VA-based or zero-based tagged-offset space, and creates reliable connected queue
// pairs (QP). Send work requests cover Send, Send with Invalidate, Send with Solicited Event (Flags), RDMA Write,
// RDMA Read and Local Invalidate (RFC 5040 §5, §6); receive work requests supply untagged buffers. Completions
// are polled from a CQ, with ReqNotify arming an event on a CompChannel. The connection manager verbs (Listen,
// Connect, Accept, Reject, private data, IRD/ORD) follow librdmacm.
//
// Providers (datapath/iwarp, a software iWARP RNIC; later a hardware provider over rdma-core) implement the
// interfaces; consumers hold only these interfaces. This package has no cgo and no I/O.
package verbs
