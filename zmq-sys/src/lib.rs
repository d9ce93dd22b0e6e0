//! The C API of libzmq 4.3, as the `zmq` crate expects it from `zmq-sys` 0.12, over a libzmq
//! built with CURVE.
//!
//! The crates.io `zmq-sys` compiles libzmq without libsodium, so it has no CURVE, and offers no
//! switch to change that. This crate takes its place through `[patch.crates-io]` and offers
//! the same items (the ones `zmq-sys` re-exports: the undeprecated functions, types and
//! constants of `zmq.h`, and the error numbers), declared from `zmq.h`; its build script builds
//! libzmq with libsodium (`build.rs`). Cohort's own code uses the `zmq` crate, and these
//! declarations only where `zmq` has no wrapper.

#![allow(non_camel_case_types)]

mod consts;
pub mod errno;

pub use consts::*;
pub use std::os::unix::io::RawFd;

use std::os::raw::{c_char, c_int, c_long, c_short, c_uchar, c_void};

/// A message (`zmq_msg_t`): 64 opaque bytes, aligned to 8, that only libzmq's `zmq_msg_*`
/// functions read and write.
#[repr(C, align(8))]
#[derive(Copy, Clone)]
pub struct zmq_msg_t {
    /// The opaque content.
    pub __: [c_uchar; 64],
}

impl Default for zmq_msg_t {
    fn default() -> zmq_msg_t {
        zmq_msg_t { __: [0; 64] }
    }
}

/// What libzmq calls to free the data of a message made with [`zmq_msg_init_data`].
pub type zmq_free_fn = Option<unsafe extern "C" fn(data_: *mut c_void, hint_: *mut c_void)>;

/// One item of [`zmq_poll`]: a ZeroMQ socket, or a file descriptor when `socket` is null.
#[repr(C)]
#[derive(Debug, Copy, Clone)]
pub struct zmq_pollitem_t {
    /// The ZeroMQ socket, or null.
    pub socket: *mut c_void,
    /// The file descriptor polled when `socket` is null.
    pub fd: c_int,
    /// The events asked for (`ZMQ_POLLIN`, `ZMQ_POLLOUT`, `ZMQ_POLLERR`).
    pub events: c_short,
    /// The events that happened.
    pub revents: c_short,
}

impl Default for zmq_pollitem_t {
    fn default() -> zmq_pollitem_t {
        zmq_pollitem_t { socket: std::ptr::null_mut(), fd: 0, events: 0, revents: 0 }
    }
}

/// The platform's `struct iovec`, opaque here (for [`zmq_sendiov`] and [`zmq_recviov`]).
#[repr(C)]
#[derive(Debug, Copy, Clone)]
pub struct iovec {
    _unused: [u8; 0],
}

extern "C" {
    /// The calling thread's last libzmq error number.
    pub fn zmq_errno() -> c_int;
    /// The text of an error number.
    pub fn zmq_strerror(errnum_: c_int) -> *const c_char;
    /// The library's version.
    pub fn zmq_version(major_: *mut c_int, minor_: *mut c_int, patch_: *mut c_int);

    /// A new context.
    pub fn zmq_ctx_new() -> *mut c_void;
    /// Ends a context (blocks until its sockets are closed).
    pub fn zmq_ctx_term(context_: *mut c_void) -> c_int;
    /// Makes blocking calls on the context's sockets return `ETERM`.
    pub fn zmq_ctx_shutdown(context_: *mut c_void) -> c_int;
    /// Sets a context option.
    pub fn zmq_ctx_set(context_: *mut c_void, option_: c_int, optval_: c_int) -> c_int;
    /// Reads a context option.
    pub fn zmq_ctx_get(context_: *mut c_void, option_: c_int) -> c_int;

    /// An empty message.
    pub fn zmq_msg_init(msg_: *mut zmq_msg_t) -> c_int;
    /// A message of `size_` bytes.
    pub fn zmq_msg_init_size(msg_: *mut zmq_msg_t, size_: usize) -> c_int;
    /// A message over caller-owned data, freed by `ffn_`.
    pub fn zmq_msg_init_data(
        msg_: *mut zmq_msg_t,
        data_: *mut c_void,
        size_: usize,
        ffn_: zmq_free_fn,
        hint_: *mut c_void,
    ) -> c_int;
    /// Sends a message (libzmq owns it on success).
    pub fn zmq_msg_send(msg_: *mut zmq_msg_t, s_: *mut c_void, flags_: c_int) -> c_int;
    /// Receives into a message (its previous content is released).
    pub fn zmq_msg_recv(msg_: *mut zmq_msg_t, s_: *mut c_void, flags_: c_int) -> c_int;
    /// Releases a message.
    pub fn zmq_msg_close(msg_: *mut zmq_msg_t) -> c_int;
    /// Moves a message's content.
    pub fn zmq_msg_move(dest_: *mut zmq_msg_t, src_: *mut zmq_msg_t) -> c_int;
    /// Shares a message's content.
    pub fn zmq_msg_copy(dest_: *mut zmq_msg_t, src_: *mut zmq_msg_t) -> c_int;
    /// A message's bytes.
    pub fn zmq_msg_data(msg_: *mut zmq_msg_t) -> *mut c_void;
    /// A message's length.
    pub fn zmq_msg_size(msg_: *const zmq_msg_t) -> usize;
    /// Whether more frames of the message follow.
    pub fn zmq_msg_more(msg_: *const zmq_msg_t) -> c_int;
    /// A message property.
    pub fn zmq_msg_get(msg_: *const zmq_msg_t, property_: c_int) -> c_int;
    /// Sets a message property.
    pub fn zmq_msg_set(msg_: *mut zmq_msg_t, property_: c_int, optval_: c_int) -> c_int;
    /// A metadata property of a received message (`"Peer-Address"`, `"User-Id"`, …).
    pub fn zmq_msg_gets(msg_: *const zmq_msg_t, property_: *const c_char) -> *const c_char;

    /// A new socket of a type (`ZMQ_PUB`, …).
    pub fn zmq_socket(arg1: *mut c_void, type_: c_int) -> *mut c_void;
    /// Closes a socket.
    pub fn zmq_close(s_: *mut c_void) -> c_int;
    /// Sets a socket option.
    pub fn zmq_setsockopt(s_: *mut c_void, option_: c_int, optval_: *const c_void, optvallen_: usize) -> c_int;
    /// Reads a socket option.
    pub fn zmq_getsockopt(s_: *mut c_void, option_: c_int, optval_: *mut c_void, optvallen_: *mut usize) -> c_int;
    /// Binds a socket to an endpoint.
    pub fn zmq_bind(s_: *mut c_void, addr_: *const c_char) -> c_int;
    /// Connects a socket to an endpoint.
    pub fn zmq_connect(s_: *mut c_void, addr_: *const c_char) -> c_int;
    /// Unbinds a socket from an endpoint.
    pub fn zmq_unbind(s_: *mut c_void, addr_: *const c_char) -> c_int;
    /// Disconnects a socket from an endpoint.
    pub fn zmq_disconnect(s_: *mut c_void, addr_: *const c_char) -> c_int;
    /// Sends a buffer as a message frame.
    pub fn zmq_send(s_: *mut c_void, buf_: *const c_void, len_: usize, flags_: c_int) -> c_int;
    /// Sends a constant buffer (never copied nor freed) as a message frame.
    pub fn zmq_send_const(s_: *mut c_void, buf_: *const c_void, len_: usize, flags_: c_int) -> c_int;
    /// Receives a message frame into a buffer.
    pub fn zmq_recv(s_: *mut c_void, buf_: *mut c_void, len_: usize, flags_: c_int) -> c_int;
    /// Starts a socket monitor publishing `events_` on a PAIR endpoint.
    pub fn zmq_socket_monitor(s_: *mut c_void, addr_: *const c_char, events_: c_int) -> c_int;
    /// Sends a message (the older name of [`zmq_msg_send`], arguments swapped).
    pub fn zmq_sendmsg(s_: *mut c_void, msg_: *mut zmq_msg_t, flags_: c_int) -> c_int;
    /// Receives a message (the older name of [`zmq_msg_recv`], arguments swapped).
    pub fn zmq_recvmsg(s_: *mut c_void, msg_: *mut zmq_msg_t, flags_: c_int) -> c_int;
    /// Sends a multi-part message from an array of buffers.
    pub fn zmq_sendiov(s_: *mut c_void, iov_: *mut iovec, count_: usize, flags_: c_int) -> c_int;
    /// Receives a multi-part message into an array of buffers.
    pub fn zmq_recviov(s_: *mut c_void, iov_: *mut iovec, count_: *mut usize, flags_: c_int) -> c_int;

    /// Waits until one of the items is ready or `timeout_` milliseconds pass (-1: no limit).
    pub fn zmq_poll(items_: *mut zmq_pollitem_t, nitems_: c_int, timeout_: c_long) -> c_int;
    /// Runs the built-in proxy between two sockets.
    pub fn zmq_proxy(frontend_: *mut c_void, backend_: *mut c_void, capture_: *mut c_void) -> c_int;
    /// Runs the built-in proxy, steered from a control socket.
    pub fn zmq_proxy_steerable(
        frontend_: *mut c_void,
        backend_: *mut c_void,
        capture_: *mut c_void,
        control_: *mut c_void,
    ) -> c_int;
    /// Whether the library has a capability (`"curve"`, `"ipc"`, …): 1 or 0.
    pub fn zmq_has(capability_: *const c_char) -> c_int;
    /// Runs a device (the older form of [`zmq_proxy`]).
    pub fn zmq_device(type_: c_int, frontend_: *mut c_void, backend_: *mut c_void) -> c_int;

    /// Encodes binary data as Z85.
    pub fn zmq_z85_encode(dest_: *mut c_char, data_: *const u8, size_: usize) -> *mut c_char;
    /// Decodes Z85 text to binary data.
    pub fn zmq_z85_decode(dest_: *mut u8, string_: *const c_char) -> *mut u8;
    /// A new CURVE key pair, as two 40-character Z85 texts.
    pub fn zmq_curve_keypair(z85_public_key_: *mut c_char, z85_secret_key_: *mut c_char) -> c_int;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_types_have_the_layouts_of_zmq_h() {
        assert_eq!(std::mem::size_of::<zmq_msg_t>(), 64);
        assert_eq!(std::mem::align_of::<zmq_msg_t>(), 8);
        assert_eq!(std::mem::size_of::<zmq_pollitem_t>(), 16);
    }

    #[test]
    fn the_library_is_libzmq_4_3_with_curve() {
        let (mut major, mut minor, mut patch) = (0, 0, 0);
        // SAFETY: three valid pointers to ints.
        unsafe { zmq_version(&mut major, &mut minor, &mut patch) };
        assert_eq!((major, minor), (4, 3), "libzmq {major}.{minor}.{patch}");
        // SAFETY: a NUL-terminated string.
        assert_eq!(unsafe { zmq_has(c"curve".as_ptr()) }, 1, "libzmq without CURVE");
    }

    #[test]
    fn a_curve_key_pair_can_be_made() {
        let (mut public, mut secret) = ([0 as c_char; 41], [0 as c_char; 41]);
        // SAFETY: two buffers of 41 bytes, as zmq_curve_keypair requires.
        assert_eq!(unsafe { zmq_curve_keypair(public.as_mut_ptr(), secret.as_mut_ptr()) }, 0);
        assert_ne!(public, secret);
    }
}
