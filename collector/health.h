/*  health.h — `tally-collector ping`: is a running collector answering, and
    is its database up? For systemd, Docker healthchecks and monitoring.
*/
#ifndef HEALTH_H_INCLUDED
#define HEALTH_H_INCLUDED

//  tally-collector ping [--query EP] [--timeout SECONDS] [--server-key FILE --key FILE]
//  Exit status: 0 answering and database up, 1 answering but database down,
//  2 no answer within the timeout (or a usage error).
int health_ping (int argc, char **argv);

#endif
