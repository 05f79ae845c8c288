// Package iwarp is xtgt's software RNIC: an iWARP provider of datapath/verbs over any ordered byte stream.
//
// Layers, per RFC: MPA framing (RFC 5044, MPA v2 enhanced connection setup with IRD/ORD and peer-to-peer RTR
// of RFC 6581) in iwarp/mpa; DDP tagged and untagged buffer models (RFC 5041 §3–§5) and RDMAP messages
// (RFC 5040 §4–§7: Send variants, RDMA Write, RDMA Read Request/Response with ORD/IRD limits, Terminate and
// the ordering rules of §5.5) here; wire formats in iwarp/ddp and iwarp/rdmap.
//
// Placement: an inbound DDP segment is checked in full (STag, PD, access right, base and bounds, TO wrap;
// RFC 5040 §8, RFC 5042 §5) before any byte moves, then its payload is copied once, from the stream's
// receive view straight into the registered region or receive buffer. A refused access is answered with a
// Terminate of the right layer/type/code, counted in QPStats.AccessViolations, and nothing is placed.
// Outbound payload is handed to the stream as a gather list referencing the registered memory.
//
// The stream seam (Stream) is receive views plus gather writes, so a userspace TCP engine can feed MPA from
// its own buffers; NewConnStream adapts a kernel net.Conn.
package iwarp
