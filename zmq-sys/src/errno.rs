//! The error numbers libzmq reports through `zmq_errno`: the system's, libzmq's own (from
//! `ZMQ_HAUSNUMERO` + 51 on), and the stand-ins libzmq uses where a platform lacks a POSIX one
//! (`ZMQ_HAUSNUMERO` + 1 to 18, as `zmq.h` numbers them).

/// The base of libzmq's own error numbers.
const ZMQ_HAUSNUMERO: i32 = 156_384_712;

/// The system's `EACCES`.
pub const EACCES: i32 = libc::EACCES;
/// The system's `EADDRINUSE`.
pub const EADDRINUSE: i32 = libc::EADDRINUSE;
/// The system's `EAGAIN`.
pub const EAGAIN: i32 = libc::EAGAIN;
/// The system's `EBUSY`.
pub const EBUSY: i32 = libc::EBUSY;
/// The system's `ECONNREFUSED`.
pub const ECONNREFUSED: i32 = libc::ECONNREFUSED;
/// The system's `EFAULT`.
pub const EFAULT: i32 = libc::EFAULT;
/// The system's `EINTR`.
pub const EINTR: i32 = libc::EINTR;
/// The system's `EHOSTUNREACH`.
pub const EHOSTUNREACH: i32 = libc::EHOSTUNREACH;
/// The system's `EINPROGRESS`.
pub const EINPROGRESS: i32 = libc::EINPROGRESS;
/// The system's `EINVAL`.
pub const EINVAL: i32 = libc::EINVAL;
/// The system's `EMFILE`.
pub const EMFILE: i32 = libc::EMFILE;
/// The system's `EMSGSIZE`.
pub const EMSGSIZE: i32 = libc::EMSGSIZE;
/// The system's `ENAMETOOLONG`.
pub const ENAMETOOLONG: i32 = libc::ENAMETOOLONG;
/// The system's `ENODEV`.
pub const ENODEV: i32 = libc::ENODEV;
/// The system's `ENOENT`.
pub const ENOENT: i32 = libc::ENOENT;
/// The system's `ENOMEM`.
pub const ENOMEM: i32 = libc::ENOMEM;
/// The system's `ENOTCONN`.
pub const ENOTCONN: i32 = libc::ENOTCONN;
/// The system's `ENOTSOCK`.
pub const ENOTSOCK: i32 = libc::ENOTSOCK;
/// The system's `EPROTO`.
pub const EPROTO: i32 = libc::EPROTO;
/// The system's `EPROTONOSUPPORT`.
pub const EPROTONOSUPPORT: i32 = libc::EPROTONOSUPPORT;
/// The system's `ENOTSUP`.
pub const ENOTSUP: i32 = libc::ENOTSUP;
/// The system's `ENOBUFS`.
pub const ENOBUFS: i32 = libc::ENOBUFS;
/// The system's `ENETDOWN`.
pub const ENETDOWN: i32 = libc::ENETDOWN;
/// The system's `EADDRNOTAVAIL`.
pub const EADDRNOTAVAIL: i32 = libc::EADDRNOTAVAIL;

/// The operation is not possible in the socket's state.
pub const EFSM: i32 = ZMQ_HAUSNUMERO + 51;
/// The transport does not suit the socket type.
pub const ENOCOMPATPROTO: i32 = ZMQ_HAUSNUMERO + 52;
/// The context was terminated.
pub const ETERM: i32 = ZMQ_HAUSNUMERO + 53;
/// No I/O thread is free.
pub const EMTHREAD: i32 = ZMQ_HAUSNUMERO + 54;

/// libzmq's `ENOTSUP` where the platform has none.
pub const ENOTSUP_ALT: i32 = ZMQ_HAUSNUMERO + 1;
/// libzmq's `EPROTONOSUPPORT` where the platform has none.
pub const EPROTONOSUPPORT_ALT: i32 = ZMQ_HAUSNUMERO + 2;
/// libzmq's `ENOBUFS` where the platform has none.
pub const ENOBUFS_ALT: i32 = ZMQ_HAUSNUMERO + 3;
/// libzmq's `ENETDOWN` where the platform has none.
pub const ENETDOWN_ALT: i32 = ZMQ_HAUSNUMERO + 4;
/// libzmq's `EADDRINUSE` where the platform has none.
pub const EADDRINUSE_ALT: i32 = ZMQ_HAUSNUMERO + 5;
/// libzmq's `EADDRNOTAVAIL` where the platform has none.
pub const EADDRNOTAVAIL_ALT: i32 = ZMQ_HAUSNUMERO + 6;
/// libzmq's `ECONNREFUSED` where the platform has none.
pub const ECONNREFUSED_ALT: i32 = ZMQ_HAUSNUMERO + 7;
/// libzmq's `EINPROGRESS` where the platform has none.
pub const EINPROGRESS_ALT: i32 = ZMQ_HAUSNUMERO + 8;
/// libzmq's `ENOTSOCK` where the platform has none.
pub const ENOTSOCK_ALT: i32 = ZMQ_HAUSNUMERO + 9;
/// libzmq's `EMSGSIZE` where the platform has none.
pub const EMSGSIZE_ALT: i32 = ZMQ_HAUSNUMERO + 10;
/// libzmq's `EAFNOSUPPORT` where the platform has none.
pub const EAFNOSUPPORT_ALT: i32 = ZMQ_HAUSNUMERO + 11;
/// libzmq's `ENETUNREACH` where the platform has none.
pub const ENETUNREACH_ALT: i32 = ZMQ_HAUSNUMERO + 12;
/// libzmq's `ECONNABORTED` where the platform has none.
pub const ECONNABORTED_ALT: i32 = ZMQ_HAUSNUMERO + 13;
/// libzmq's `ECONNRESET` where the platform has none.
pub const ECONNRESET_ALT: i32 = ZMQ_HAUSNUMERO + 14;
/// libzmq's `ENOTCONN` where the platform has none.
pub const ENOTCONN_ALT: i32 = ZMQ_HAUSNUMERO + 15;
/// libzmq's `ETIMEDOUT` where the platform has none.
pub const ETIMEDOUT_ALT: i32 = ZMQ_HAUSNUMERO + 16;
/// libzmq's `EHOSTUNREACH` where the platform has none.
pub const EHOSTUNREACH_ALT: i32 = ZMQ_HAUSNUMERO + 17;
/// libzmq's `ENETRESET` where the platform has none.
pub const ENETRESET_ALT: i32 = ZMQ_HAUSNUMERO + 18;
