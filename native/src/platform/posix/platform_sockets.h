/* platform_sockets.h (POSIX) - the socket address types (sockaddr_in6,
 * htons, in6addr_loopback). Found through the platform's include folder,
 * which CMake puts on the path. */
#ifndef EM_PLATFORM_SOCKETS_H
#define EM_PLATFORM_SOCKETS_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#endif
