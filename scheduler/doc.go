// Package scheduler will hold placement as pure code:
// Place(snapshot, requests, now) returning decisions and the reasons
// hosts were rejected, with no I/O and no clock. Not built yet: see issue
// 4. The CM already re-verifies agents' plans (clustermanager/store).
package scheduler
