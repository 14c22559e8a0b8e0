export declare function renderReadme(readme: string, root?: string): string;
export declare function inputsTable(action: unknown): string;
export declare function outputsTable(action: unknown): string;
