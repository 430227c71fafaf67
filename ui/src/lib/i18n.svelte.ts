// Interface strings in English and Simplified Chinese. Every key exists in both (the type of `zh`
// requires it, and a unit test checks the placeholders agree). `t` reads the current language from
// the settings, so the screens re-render when it changes.

import { ApiError } from './api';
import { settings, type Lang } from './settings.svelte';

const en = {
  'nav.projects': 'Projects',
  'nav.import': 'Import',
  'nav.label': 'Label',
  'nav.browse': 'Browse',
  'nav.settings': 'Settings',

  'common.loading': 'Loading…',
  'common.records': 'records',
  'common.save': 'Save',
  'common.cancel': 'Cancel',
  'common.close': 'Close',
  'common.edit': 'Edit',
  'common.preview': 'Preview',
  'common.remove': 'Remove',
  'common.browse_files': 'Choose…',

  'kind.single': 'Single label',
  'kind.multi': 'Multi-label',
  'kind.spans': 'Spans',
  'kind.single.help': 'One label per record (sentiment, intent, topic).',
  'kind.multi.help': 'Any number of labels per record (tags, aspects).',
  'kind.spans.help': 'Mark pieces of text (names, places, products).',

  'split.train': 'train',
  'split.dev': 'dev',
  'split.test': 'test',

  'status.unlabeled': 'Unlabeled',
  'status.labeled': 'Labeled',
  'status.skipped': 'Skipped',
  'status.flagged': 'Flagged',

  'projects.open': 'Open a project',
  'projects.open_button': 'Open',
  'projects.path_placeholder': '/home/me/projects/reviews',
  'projects.recent': 'Recent projects',
  'projects.no_recent': 'No recent projects yet.',
  'projects.create': 'New project',
  'projects.name': 'Name',
  'projects.name_placeholder': 'Product reviews',
  'projects.folder': 'Folder',
  'projects.folder_help': 'A new folder; Finelab creates it and keeps the project database there.',
  'projects.kind': 'Task',
  'projects.labels': 'Labels',
  'projects.guidelines': 'Guidelines',
  'projects.guidelines_placeholder': '# How to label\n\n- **positive**: the customer is satisfied\n- **negative**: a complaint',
  'projects.create_button': 'Create project',
  'projects.created': 'Project “{name}” created.',
  'projects.error.no_folder': 'Give the project a folder.',
  'projects.error.exists': 'That folder already holds a project: open it instead.',
  'projects.start_labeling': 'Start labeling',
  'projects.counts': '{records} records · {labeled} labeled · {flagged} flagged',
  'projects.guidelines_saved': 'Guidelines saved.',

  'labels.name': 'Name',
  'labels.name_placeholder': 'positive',
  'labels.color': 'Colour',
  'labels.hotkey': 'Key',
  'labels.description': 'Description',
  'labels.add': 'Add label',
  'labels.reserved': 'Keys S, F, ?, Enter, Backspace and Space are taken by the label screen.',
  'labels.error.empty_set': 'Add at least one label.',
  'labels.error.empty_name': 'Every label needs a name.',
  'labels.error.duplicate_name': 'The label “{label}” is there twice.',
  'labels.error.bad_hotkey': 'The key of “{label}” must be one character other than S, F, ? and Space.',
  'labels.error.duplicate_hotkey': 'The key of “{label}” is already used by another label.',

  'import.title': 'Import',
  'import.step_file': '1. Choose a file',
  'import.step_preview': '2. Check the preview',
  'import.step_columns': '3. Map the columns',
  'import.choose_file': 'Choose a file…',
  'import.filter_name': 'Data files',
  'import.drop_here': 'or drop a CSV, TSV, JSONL, JSON or Excel file here.',
  'import.uploading': 'Uploading {sent} of {total}…',
  'import.or_path': 'or a path:',
  'import.or_server_path': 'or a path on the server:',
  'import.preview_button': 'Preview',
  'import.format': 'Format',
  'import.encoding': 'Encoding',
  'import.delimiter': 'Delimiter',
  'import.auto': 'Detect',
  'import.none': 'none',
  'import.role.text': 'Text',
  'import.role.label': 'Label',
  'import.role.id': 'ID',
  'import.role.group': 'Conversation',
  'import.role.speaker': 'Speaker',
  'import.fixed_label': 'Give every unlabeled record the label',
  'import.add_labels': 'Add unknown labels to the label set',
  'import.strict': 'Import nothing if any row is bad',
  'import.keep_duplicates': 'Keep duplicates',
  'import.run': 'Import',
  'import.running': 'Importing',
  'import.cancelled': 'Import cancelled: nothing was imported.',
  'import.report': 'Import report',
  'import.imported': 'imported',
  'import.with_labels': 'with labels',
  'import.duplicates': 'duplicates skipped',
  'import.rejected': 'rows rejected',
  'import.read_as': '{rows} rows read as {format}, {encoding}, in {seconds} s.',
  'import.added_labels': 'Labels added',
  'import.rejected_rows': 'Rejected rows',
  'import.duplicate_rows': 'Duplicates',
  'import.line': 'Line',
  'import.reason': 'Reason',
  'import.same_as': 'Same text as record',
  'import.more_rejected': '…and {n} more.',
  'import.another': 'Import another file',

  'label.progress': '{labeled} / {total} labeled ({percent}%)',
  'label.session': '{n} this session',
  'label.saving': 'Saving…',
  'label.saved': 'Saved #{seq}: {what}',
  'label.save_failed': '#{seq} was not saved.',
  'label.not_saved': 'Record #{seq} was not saved: {message}',
  'label.go_back': 'Go back to it',
  'label.guidelines': 'Guidelines',
  'label.no_guidelines': 'This project has no guidelines yet (Projects → Guidelines).',
  'label.labels_heading': 'Labels',
  'label.all_done': 'Nothing left to label.',
  'label.all_done_help': 'Every record has a label or was skipped by you. Import more, or review in Browse.',
  'label.flagged': 'flagged',
  'label.by': 'by {who}',
  'label.accept': 'Accept',
  'label.skip': 'Skip',
  'label.flag': 'Flag',
  'label.unflag': 'Unflag',
  'label.undo': 'Undo',
  'label.nothing_to_undo': 'Nothing to undo.',
  'label.undone_hint': 'Undone: “{label}”. Press a key to label this record again.',
  'label.none_of_these': 'none',
  'label.n_spans': '{n} span|{n} spans',
  'label.action.label': 'label',
  'label.action.skip': 'skipped',
  'label.action.flag': 'flagged',
  'label.action.unflag': 'unflagged',
  'label.action.undo': 'undone',
  'label.span_help': 'Select text with the mouse, or with Shift+← →, then press a label key.',
  'label.span_select_help': 'Press a label key to mark it.',
  'label.span_focused': '「{text}」 is {label}.',
  'label.span_relabel_help': 'A label key relabels it.',
  'label.keys.single': 'Keys: a label key saves and moves on · S skip · F flag · Backspace or Ctrl+Z undo · ? guidelines',
  'label.keys.multi': 'Keys: label keys toggle · Enter saves and moves on · S skip · F flag · Backspace or Ctrl+Z undo · ? guidelines',
  'label.keys.spans':
    'Keys: ← → move · Shift+← → select · Ctrl+Shift+← → select words · a label key marks the selection · click a span to relabel or remove it · Enter saves · Backspace undo · ? guidelines',

  'browse.search_placeholder': 'Search text (Chinese or English)…',
  'browse.any_label': 'Any label',
  'browse.any_split': 'Any split',
  'browse.any_annotator': 'Any annotator',
  'browse.any_status': 'Any status',
  'browse.counting': 'Counting…',
  'browse.n_records': '{n} record|{n} records',
  'browse.n_records_more': 'more than {n} records',
  'browse.empty': 'No records match.',
  'browse.col.text': 'Text',
  'browse.col.label': 'Label',
  'browse.col.split': 'Split',
  'browse.col.annotator': 'Annotator',
  'browse.col.status': 'Status',

  'settings.title': 'Settings',
  'settings.language': 'Language',
  'settings.annotator': 'Annotator name',
  'settings.annotator_help': 'Your labels are saved under this name; several people can label the same project.',
  'settings.annotator_empty': 'The name cannot be empty.',
  'settings.theme': 'Theme',
  'settings.theme.light': 'Light',
  'settings.theme.dark': 'Dark',
  'settings.transport.tauri': 'desktop app',
  'settings.transport.http': 'in the browser',

  'error.network': 'Finelab cannot be reached',
  'error.not_a_project': 'Not a Finelab project',
  'error.already_exists': 'Already exists',
  'error.newer_schema': 'Made by a newer Finelab',
  'error.io': 'File error',
  'error.bad_file': 'The file cannot be read',
  'error.rows_rejected': 'Rows rejected',
  'error.invalid': 'Invalid',
  'error.no_such_record': 'No such record',
  'error.database': 'Database error',
  'error.unsupported': 'Not supported',
};

export type MessageKey = keyof typeof en;

const zh: Record<MessageKey, string> = {
  'nav.projects': '项目',
  'nav.import': '导入',
  'nav.label': '标注',
  'nav.browse': '浏览',
  'nav.settings': '设置',

  'common.loading': '加载中…',
  'common.records': '条记录',
  'common.save': '保存',
  'common.cancel': '取消',
  'common.close': '关闭',
  'common.edit': '编辑',
  'common.preview': '预览',
  'common.remove': '删除',
  'common.browse_files': '选择…',

  'kind.single': '单标签分类',
  'kind.multi': '多标签分类',
  'kind.spans': '片段标注',
  'kind.single.help': '每条记录一个标签（情感、意图、主题）。',
  'kind.multi.help': '每条记录可有多个标签（标签、方面）。',
  'kind.spans.help': '标出文本中的片段（人名、地名、产品）。',

  'split.train': '训练集',
  'split.dev': '验证集',
  'split.test': '测试集',

  'status.unlabeled': '未标注',
  'status.labeled': '已标注',
  'status.skipped': '已跳过',
  'status.flagged': '已标记',

  'projects.open': '打开项目',
  'projects.open_button': '打开',
  'projects.path_placeholder': '/home/me/projects/reviews',
  'projects.recent': '最近的项目',
  'projects.no_recent': '还没有最近的项目。',
  'projects.create': '新建项目',
  'projects.name': '名称',
  'projects.name_placeholder': '商品评论',
  'projects.folder': '文件夹',
  'projects.folder_help': '一个新文件夹；Finelab 会创建它并在其中保存项目数据库。',
  'projects.kind': '任务',
  'projects.labels': '标签',
  'projects.guidelines': '标注规范',
  'projects.guidelines_placeholder': '# 标注规范\n\n- **正面**：顾客满意\n- **负面**：投诉或抱怨',
  'projects.create_button': '创建项目',
  'projects.created': '项目“{name}”已创建。',
  'projects.error.no_folder': '请为项目指定文件夹。',
  'projects.error.exists': '该文件夹中已有项目，请直接打开。',
  'projects.start_labeling': '开始标注',
  'projects.counts': '{records} 条记录 · 已标注 {labeled} · 已标记 {flagged}',
  'projects.guidelines_saved': '标注规范已保存。',

  'labels.name': '名称',
  'labels.name_placeholder': '正面',
  'labels.color': '颜色',
  'labels.hotkey': '快捷键',
  'labels.description': '说明',
  'labels.add': '添加标签',
  'labels.reserved': 'S、F、?、回车、退格和空格键已被标注界面占用。',
  'labels.error.empty_set': '请至少添加一个标签。',
  'labels.error.empty_name': '每个标签都需要名称。',
  'labels.error.duplicate_name': '标签“{label}”重复了。',
  'labels.error.bad_hotkey': '“{label}”的快捷键必须是一个字符，且不能是 S、F、? 或空格。',
  'labels.error.duplicate_hotkey': '“{label}”的快捷键已被其他标签使用。',

  'import.title': '导入',
  'import.step_file': '1. 选择文件',
  'import.step_preview': '2. 检查预览',
  'import.step_columns': '3. 对应列',
  'import.choose_file': '选择文件…',
  'import.filter_name': '数据文件',
  'import.drop_here': '或将 CSV、TSV、JSONL、JSON 或 Excel 文件拖到这里。',
  'import.uploading': '正在上传 {sent} / {total}…',
  'import.or_path': '或输入路径：',
  'import.or_server_path': '或输入服务器上的路径：',
  'import.preview_button': '预览',
  'import.format': '格式',
  'import.encoding': '编码',
  'import.delimiter': '分隔符',
  'import.auto': '自动检测',
  'import.none': '无',
  'import.role.text': '文本',
  'import.role.label': '标签',
  'import.role.id': 'ID',
  'import.role.group': '会话',
  'import.role.speaker': '说话人',
  'import.fixed_label': '为所有未标注的记录加上标签',
  'import.add_labels': '将未知标签加入标签集',
  'import.strict': '有任何错误行就不导入',
  'import.keep_duplicates': '保留重复记录',
  'import.run': '导入',
  'import.running': '正在导入',
  'import.cancelled': '导入已取消：没有导入任何记录。',
  'import.report': '导入报告',
  'import.imported': '已导入',
  'import.with_labels': '带标签',
  'import.duplicates': '重复已跳过',
  'import.rejected': '行被拒绝',
  'import.read_as': '按 {format}、{encoding} 读取了 {rows} 行，用时 {seconds} 秒。',
  'import.added_labels': '新增的标签',
  'import.rejected_rows': '被拒绝的行',
  'import.duplicate_rows': '重复记录',
  'import.line': '行号',
  'import.reason': '原因',
  'import.same_as': '与此记录文本相同',
  'import.more_rejected': '……另有 {n} 行。',
  'import.another': '导入其他文件',

  'label.progress': '已标注 {labeled} / {total}（{percent}%）',
  'label.session': '本次 {n} 条',
  'label.saving': '保存中…',
  'label.saved': '已保存 #{seq}：{what}',
  'label.save_failed': '#{seq} 未保存。',
  'label.not_saved': '记录 #{seq} 未保存：{message}',
  'label.go_back': '返回该记录',
  'label.guidelines': '标注规范',
  'label.no_guidelines': '此项目还没有标注规范（项目 → 标注规范）。',
  'label.labels_heading': '标签',
  'label.all_done': '没有待标注的记录了。',
  'label.all_done_help': '每条记录都已标注或被你跳过。可以导入更多数据，或在“浏览”中检查。',
  'label.flagged': '已标记',
  'label.by': '标注人：{who}',
  'label.accept': '确认',
  'label.skip': '跳过',
  'label.flag': '标记',
  'label.unflag': '取消标记',
  'label.undo': '撤销',
  'label.nothing_to_undo': '没有可撤销的操作。',
  'label.undone_hint': '已撤销“{label}”。按快捷键重新标注这条记录。',
  'label.none_of_these': '无',
  'label.n_spans': '{n} 个片段',
  'label.action.label': '标注',
  'label.action.skip': '已跳过',
  'label.action.flag': '已标记',
  'label.action.unflag': '已取消标记',
  'label.action.undo': '已撤销',
  'label.span_help': '用鼠标或 Shift+← → 选择文本，再按标签快捷键。',
  'label.span_select_help': '按标签快捷键标注所选文本。',
  'label.span_focused': '「{text}」为 {label}。',
  'label.span_relabel_help': '按标签快捷键可改标。',
  'label.keys.single': '快捷键：标签键保存并进入下一条 · S 跳过 · F 标记 · 退格或 Ctrl+Z 撤销 · ? 标注规范',
  'label.keys.multi': '快捷键：标签键切换 · 回车保存并进入下一条 · S 跳过 · F 标记 · 退格或 Ctrl+Z 撤销 · ? 标注规范',
  'label.keys.spans':
    '快捷键：← → 移动 · Shift+← → 选择 · Ctrl+Shift+← → 按词选择 · 标签键标注所选 · 点击片段可改标或删除 · 回车保存 · 退格撤销 · ? 标注规范',

  'browse.search_placeholder': '搜索文本（中文或英文）…',
  'browse.any_label': '全部标签',
  'browse.any_split': '全部数据集',
  'browse.any_annotator': '全部标注人',
  'browse.any_status': '全部状态',
  'browse.counting': '计数中…',
  'browse.n_records': '{n} 条记录',
  'browse.n_records_more': '超过 {n} 条记录',
  'browse.empty': '没有匹配的记录。',
  'browse.col.text': '文本',
  'browse.col.label': '标签',
  'browse.col.split': '数据集',
  'browse.col.annotator': '标注人',
  'browse.col.status': '状态',

  'settings.title': '设置',
  'settings.language': '界面语言',
  'settings.annotator': '标注人姓名',
  'settings.annotator_help': '你的标注以此名称保存；多人可以标注同一个项目。',
  'settings.annotator_empty': '姓名不能为空。',
  'settings.theme': '主题',
  'settings.theme.light': '浅色',
  'settings.theme.dark': '深色',
  'settings.transport.tauri': '桌面应用',
  'settings.transport.http': '浏览器中',

  'error.network': '无法连接 Finelab',
  'error.not_a_project': '不是 Finelab 项目',
  'error.already_exists': '已存在',
  'error.newer_schema': '由更新版本的 Finelab 创建',
  'error.io': '文件错误',
  'error.bad_file': '无法读取该文件',
  'error.rows_rejected': '有行被拒绝',
  'error.invalid': '无效',
  'error.no_such_record': '没有该记录',
  'error.database': '数据库错误',
  'error.unsupported': '不支持',
};

export const MESSAGES: Record<Lang, Record<MessageKey, string>> = { en, 'zh-CN': zh };

/**
 * Fills `{name}` placeholders. A template `one form|other form` picks by `params.n` (English
 * plurals; Chinese templates have one form).
 */
export function format(template: string, params: Record<string, string | number> = {}): string {
  if (template.includes('|') && 'n' in params) {
    const [one, other] = template.split('|');
    const n = Number(String(params.n).replace(/[^\d.-]/g, ''));
    template = n === 1 ? one : other;
  }
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

/** The string for `key` in the current language (keys built at run time fall back to the key). */
export function t(key: MessageKey | (string & {}), params?: Record<string, string | number>): string {
  const table = MESSAGES[settings.lang] ?? en;
  const template = (table as Record<string, string>)[key] ?? (en as Record<string, string>)[key] ?? key;
  return format(template, params);
}

/** A number in the current language's style (1,000,000). */
export function fmt(n: number): string {
  return new Intl.NumberFormat(settings.lang).format(n);
}

/** A date and time in the current language's style. */
export function fmtDate(ms: number): string {
  return new Intl.DateTimeFormat(settings.lang, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(ms));
}

/** A byte count (KB, MB). */
export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GB`;
}

/** An error for the user: the translated kind (from the stable code) and the server's message. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError || (e && typeof e === 'object' && 'code' in e && 'message' in e)) {
    const { code, message } = e as { code: string; message: string };
    const key = `error.${code}`;
    const kind = key in en ? t(key) : code;
    return `${kind}: ${message}`;
  }
  return e instanceof Error ? e.message : String(e);
}
