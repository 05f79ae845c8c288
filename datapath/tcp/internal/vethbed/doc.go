// Package vethbed builds a two-namespace veth test bed for the userspace TCP engine: an
// "engine" namespace whose veth end has no IP address (so the kernel never answers for the
// engine's address) and a "peer" namespace where the Linux kernel TCP stack is the peer. Tests
// that use it need root and skip otherwise.
package vethbed
