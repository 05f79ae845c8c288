// Package tcp is xtgt's userspace TCP engine: a purpose-built, RNIC-style TCP that runs one
// run-to-completion loop per link queue (Engine.Run, on a locked OS thread) over a batch-shaped
// Link, and hands in-order payload to the upper layer as views into the link's receive frames
// (UMEM frames on AF_XDP), so MPA/DDP can place data with one copy.
//
// Files and the specifications they implement:
//   - wire_eth.go, wire_ip.go, wire_tcp.go, options.go, parse.go: zero-allocation views of
//     Ethernet II, IPv4 (RFC 791; fragments dropped), IPv6 (RFC 8200 §3; extension headers not
//     supported, dropped), the TCP header (RFC 9293 §3.1) and options: MSS (RFC 9293 §3.7.1,
//     RFC 6691), window scale and timestamps (RFC 7323 §2, §3), SACK-permitted and SACK
//     (RFC 2018). Malformed frames are dropped and counted (EngineStats).
//   - checksum.go: the Internet checksum (RFC 1071) with IPv4/IPv6 pseudo-headers (RFC 9293
//     §3.1, RFC 8200 §8.1), verified in software, computed in software (fused with the payload
//     copy) unless the link completes it; Config.AcceptPartialChecksum accepts a local
//     veth peer's CHECKSUM_PARTIAL segments.
//   - input.go, ack.go, data.go, lifecycle.go: RFC 9293 §3.10 event processing for passive and
//     active opens (bounded SYN backlog; no SYN cookies), sliding windows with scaling, data
//     transfer with out-of-order queueing, FIN/half-close, TIME-WAIT (§3.6), RST generation and
//     handling; RFC 5961 challenge ACKs for RST (§3), SYN (§4) and ACK (§5) with the §7 rate
//     limit; PAWS and RTTM (RFC 7323 §4, §5); RTO (RFC 6298) with Karn's rule; fast retransmit
//     and NewReno recovery (RFC 5681 §3.2, RFC 6582); limited transmit (RFC 3042); early
//     retransmit (RFC 5827); SACK loss recovery with a pipe estimate (RFC 6675); a tail loss
//     probe and a time-based loss rule after RFC 8985 (simplified); delayed ACK (RFC 5681 §4.2);
//     zero-window probing (RFC 9293 §3.8.6.1); keepalive (RFC 9293 §3.8.4); receiver and
//     sender silly-window avoidance (RFC 9293 §3.8.6.2).
//   - cc.go, cc_cubic.go: congestion control behind CongestionControl: NewReno (RFC 5681 with
//     RFC 3465 ABC) and CUBIC (RFC 9438, default).
//   - engine.go, timerwheel.go: the per-queue loop (batched receive/transmit, no locks and no
//     allocation per segment in steady state), a hashed timer wheel with one entry per
//     connection.
//   - stream.go, sendq.go: the upper-layer hooks — ReadView/ReleaseView deliver payload as frame
//     views released explicitly; Writev takes iovec-style slices and the engine copies each
//     payload byte once, from the caller's buffer straight into a transmit frame (UMEM on
//     AF_XDP) that it keeps until the data is acknowledged, so retransmissions are copied from
//     kept frames and no send buffer exists (buffers up to Config.StageMax are staged so that
//     small writes return at once) — and the net.Conn adapter. Where the link offers it
//     (Link.TxChecksumOffload: AF_XDP TX metadata), the engine writes only the pseudo-header
//     sum and the checksum is completed below it. On links whose packets may span several
//     buffers (multi-buffer AF_XDP), segments up to the MTU go out over several frames
//     (Link.TxFragments, TxFrame.More) and arrive over several (Link.RxMultiBuffer: the
//     payload's pieces are delivered or held out of order as separate views; otherwise the
//     advertised MSS fits one frame).
//   - info.go, stats.go: per-connection (ConnStats, Info) and per-engine statistics.
//
// Links live in datapath/link: memlink (in-memory pair), afpacket (raw socket), xsklink
// (AF_XDP over datapath/xsk). xdplisten sets up the classifier, sockets and engines for a
// portal. lossinject is a cls_bpf random-loss test helper.
package tcp
