/* The service of the services bench (services.ts): a program with a fixed
 * start time. It waits START_MS (default 100) after it runs, then listens on
 * 127.0.0.1:PORT and closes every connection it accepts at once: enough for
 * a `health: { tcp }` check and for the bench's own probe. SIGTERM ends it.
 * C, so that its own start adds about a millisecond to START_MS even on a
 * loaded machine (a Node program adds its own start-up, which varies with the
 * load: `node -e 1` took 0.15-0.33 s on a loaded machine; `--program node`
 * runs slow-start-service.ts instead).
 *   cc -O2 -o slow-start-service slow-start-service.c
 *   PORT=5001 START_MS=100 ./slow-start-service */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long number(const char *name, const char *text, long dflt, long min, long max) {
  if (text == NULL) return dflt;
  char *end;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno || end == text || *end || v < min || v > max) {
    fprintf(stderr, "slow-start-service: %s must be a whole number from %ld to %ld, got '%s'\n", name, min, max, text);
    exit(2);
  }
  return v;
}

int main(void) {
  const char *port_text = getenv("PORT");
  if (port_text == NULL) {
    fprintf(stderr, "slow-start-service: PORT is not set\n");
    return 2;
  }
  long port = number("PORT", port_text, 0, 1, 65535);
  long ms = number("START_MS", getenv("START_MS"), 100, 0, 3600000);
  struct timespec wait = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&wait, &wait) == -1 && errno == EINTR) {}
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  /* it closes first, so the TIME_WAIT of its probes' connections is on its side: a restart binds anyway */
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = { 0 };
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 64) != 0) {
    fprintf(stderr, "slow-start-service: cannot listen on 127.0.0.1:%ld: ", port);
    perror(NULL);
    return 1;
  }
  for (;;) {
    int c = accept(fd, NULL, NULL);
    if (c >= 0) close(c);
  }
}
