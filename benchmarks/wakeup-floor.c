// The floor under the agent's CPU at a given wake-up rate: a process that
// does nothing but sleep in a timed epoll wait RATE times a second, as the
// agent's loop does between ring reads. Prints one JSON line: its CPU time
// (user + system) over the wall time, and per wake-up.
//   wakeup-floor RATE SECONDS
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>

static double seconds(struct timeval t) { return t.tv_sec + t.tv_usec / 1e6; }

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: wakeup-floor RATE SECONDS\n");
		return 2;
	}
	double rate = atof(argv[1]), duration = atof(argv[2]);
	long wakeups = (long)(rate * duration);
	long period = (long)(1e9 / rate);
	struct timespec timeout = { period / 1000000000, period % 1000000000 }, start, end;
	struct epoll_event events[4];
	struct rusage usage;
	int epoll = epoll_create1(0);

	if (epoll < 0 || rate <= 0 || duration <= 0) {
		fprintf(stderr, "wakeup-floor: bad arguments or no epoll\n");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (long i = 0; i < wakeups; i++)
		epoll_pwait2(epoll, events, 4, &timeout, NULL);
	clock_gettime(CLOCK_MONOTONIC, &end);
	getrusage(RUSAGE_SELF, &usage);
	double cpu = seconds(usage.ru_utime) + seconds(usage.ru_stime);
	double wall = (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
	printf("{\"wakeups_per_s\": %.1f, \"cpu_percent\": %.3f, \"us_per_wakeup\": %.2f}\n",
	       wakeups / wall, 100 * cpu / wall, 1e6 * cpu / wakeups);
	return 0;
}
