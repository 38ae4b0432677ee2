package netsetup

import "log/slog"

// undo collects the steps that revert what a call made; run performs them
// newest first. Failures are logged: undo is best effort, and the error
// the caller sees is the one that caused it.
type undo struct {
	log   *slog.Logger
	steps []undoStep
}

type undoStep struct {
	what string
	fn   func() error
}

func (u *undo) add(what string, fn func() error) {
	u.steps = append(u.steps, undoStep{what, fn})
}

// runIf reverts when *err is set. Use as: defer u.runIf(&err).
func (u *undo) runIf(err *error) {
	if *err == nil {
		return
	}
	for i := len(u.steps) - 1; i >= 0; i-- {
		s := u.steps[i]
		if e := s.fn(); e != nil {
			u.log.Warn("undo failed", "step", s.what, "err", e)
		} else {
			u.log.Debug("undone", "step", s.what)
		}
	}
	u.steps = nil
}
