//! Hostile clients and upstreams (issue: nothing may exhaust the gateway): raw sockets that
//! trickle, idle or hoard connections, and upstreams that never finish or lie.

mod clients;
mod contract;
mod fd_limit;
mod raw;
mod upstreams;
