package ganglia

import "errors"

var (
	// ErrTooLarge is returned (wrapped) when the XML exceeds Config.MaxBytes.
	ErrTooLarge = errors.New("ganglia xml exceeds the size limit")
	// ErrNotGanglia is returned (wrapped) when the document's root is not
	// GANGLIA_XML.
	ErrNotGanglia = errors.New("not ganglia xml")
)
