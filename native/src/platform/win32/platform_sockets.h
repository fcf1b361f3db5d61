/* platform_sockets.h (Windows) - the socket address types (sockaddr_in6,
 * htons, in6addr_loopback) from Winsock 2. Found through the platform's
 * include folder, which CMake puts on the path. */
#ifndef EM_PLATFORM_SOCKETS_H
#define EM_PLATFORM_SOCKETS_H

#include <winsock2.h>
#include <ws2tcpip.h>

#endif
