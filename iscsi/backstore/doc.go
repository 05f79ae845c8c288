// Package backstore provides the backing stores behind SCSI logical units:
// a lazily allocated RAM disk, sparse regular files and block devices. Each
// implements scsi.Backend (and scsi.Mapper where holes can be told apart),
// mapping Unmap to page release, fallocate(PUNCH_HOLE) or BLKDISCARD.
//
// Open parses the command-line forms "ram:SIZE", "file:PATH[:SIZE]" and
// "block:PATH"; sizes take binary K/M/G/T suffixes.
package backstore
