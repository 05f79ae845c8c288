// Package mpa implements Marker PDU Aligned framing for TCP (RFC 5044) with the enhanced connection
// establishment of MPA v2 (RFC 6581).
//
//   - §7.1 Request/Reply frames (Frame, AppendFrame) with private data, the Reject bit, and the RFC 6581 §5
//     IRD/ORD word with peer-to-peer RTR flags (Enhanced).
//   - §4.1–§4.2 FPDU: ULPDU_Length, ULPDU, pad to 4 octets, CRC32C (RFC 3720 B.4 polynomial) sent
//     little-endian (§4.4 carries it as the CRC32C of RFC 3385; the wire order is the iSCSI one).
//   - §4.3 markers every 512 octets of TCP sequence space from the first FPDU octet of full operation,
//     carrying FPDUPTR back to the ULPDU_Length field (0 when the marker immediately precedes it).
//   - §4.6 FPDU size: MULPDU from the effective MSS so each FPDU fits one TCP segment.
//
// Framer builds FPDUs as gather lists ([][]byte) so payload goes to the stream without a copy; Deframer is a
// push parser over caller-supplied views that strips markers, checks the CRC and hands ULPDU bytes to a Sink.
package mpa
