// better-sqlite3 12.x ships no types and @types/better-sqlite3 is not installed: the small part
// of its API the outbox uses.
declare module 'better-sqlite3' {
  interface RunResult {
    changes: number;
    lastInsertRowid: number | bigint;
  }
  interface Statement<P extends unknown[] = unknown[]> {
    run(...params: P): RunResult;
    get(...params: P): unknown;
    all(...params: P): unknown[];
    iterate(...params: P): IterableIterator<unknown>;
  }
  interface Options {
    readonly?: boolean;
    fileMustExist?: boolean;
    timeout?: number;
  }
  interface Database {
    prepare<P extends unknown[] = unknown[]>(sql: string): Statement<P>;
    exec(sql: string): Database;
    pragma(source: string, options?: { simple?: boolean }): unknown;
    transaction<F extends (...args: never[]) => unknown>(fn: F): F;
    close(): Database;
    readonly open: boolean;
  }
  interface DatabaseConstructor {
    new (filename: string, options?: Options): Database;
  }
  const Database: DatabaseConstructor;
  export default Database;
  export type { Database, Statement, RunResult, Options };
}
