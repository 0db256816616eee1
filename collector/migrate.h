/*  migrate.h — `tally-collector migrate`: schema migrations and catalogs.

    Applies the numbered SQL files of SHARE/migrations that the database has
    not seen (recorded in schema_migration), each in its own transaction,
    then loads SHARE/catalog/regions.csv and metrics.csv (added or updated,
    never deleted). Safe to run twice, and by two operators at once (an
    advisory lock serialises them).
*/
#ifndef MIGRATE_H_INCLUDED
#define MIGRATE_H_INCLUDED

//  Find the folder holding migrations/ and catalog/: `configured` when not
//  empty, else ../share/tally beside the running executable, else the share
//  folder configured at build time, else the source tree's deploy/.
//  Returns a malloc'd path, or NULL (with a message on stderr).
char *migrate_find_share (const char *configured);

//  Run the migrations and load the catalogs; progress on stdout, one line
//  per problem on stderr. Returns 0 or -1.
int migrate_run (const char *conninfo, const char *share);

#endif
