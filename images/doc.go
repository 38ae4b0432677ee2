// Package images is the image store of a Tashi node, kept under the
// [Vfs] prefix that every host shares:
//
//	<prefix>/images     base images (qcow2 or raw), listed by getImages
//	<prefix>/overlays   one qcow2 overlay per instance disk, <instance>-<disk>.qcow2
//	<prefix>/suspend    suspended guests, <instance>_<name>.gz
//
// A non-persistent disk boots from an overlay whose backing file is the
// base image's absolute path (CreateOverlay), so the base never changes
// and the overlay is thrown away on destroy (RemoveOverlays). A persistent
// disk is the base image used in place; that only one instance holds it at
// a time is the cluster manager's rule, not this package's.
//
// An image can carry <image>.boot.json, {"kernel": ..., "initrd": ...,
// "append": ...} with paths relative to the images folder: the guest then
// boots that kernel directly (Boot). Boot files and the kernels and
// initrds they name are not images and List leaves them out.
//
// Copy, Clone and Rebase are Tashi's copyImage, cloneImage and
// rebaseImage. Image work is done by qemu-img, run without a shell.
//
// The tiny test guest: images/tiny/build.sh builds a small guest from
// Debian packages (the stock kernel, uncompressed for PVH boot, and a
// busybox initramfs; see images/tiny/README.md), with a qcow2 root disk
// tiny.qcow2 and its boot file. EnsureTiny runs it into a store for tests,
// benchmarks and `make up`.
package images
