// Package ddp holds the Direct Data Placement wire format (RFC 5041 §4): the control field (T, L, DV) and the
// tagged (STag, TO; §4.2) and untagged (QN, MSN, MO; §4.3) buffer model headers, plus the DDP error codes
// carried in a Terminate (§7.2). The 8 (untagged: 40) RsvdULP bits belong to the upper layer (RDMAP).
// Placement and reassembly state lives with the queue pair (datapath/iwarp); this package has no state.
package ddp
