// Package images will hold the image store (base images under the [Vfs]
// prefix, qcow2 overlays, exclusive persistent images, copy/clone/rebase)
// and the recipes that build guest images from Debian packages. Not built
// yet: see issue 3. Today the CM lists <prefix>/images and records images
// registered with tashi addImage.
package images
