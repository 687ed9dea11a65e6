// Package hatest holds gantry's failover tests with real processes: two
// `gantry serve` replicas (the test binary run again as gantry) elect a
// leader on the local cluster, the test SIGKILLs the leader at a chosen
// point inside a plan or an apply, and asserts that the follower, once it
// leads, finishes what the dead replica started and loses nothing.
//
// The package has no code besides its tests.
package hatest
